// The command-line parser every promptgate subcommand uses. A command describes what it accepts
// in an ArgumentSpec; parse_arguments reads the words left to right and sorts them into options
// (kept in command-line order, so a later value can win or values can add up) and positionals,
// or throws an ArgumentError at the first word it cannot take. The command prints the error
// after its own prefix ("promptgate scan: ") and picks the exit status.
//
//   const ArgumentSpec kSpec{.options = {{"--format", OptionKind::value, {"jsonl", "text"}},
//                                        {"--strict"}},
//                            .positionals = true};
//   Arguments a = parse_arguments(args, kSpec);  // throws ArgumentError or HelpRequested
//   bool strict = a.has("--strict");
//   std::string format = a.last("--format").value_or("jsonl");
//
// "--help" or "-h" (not as an option's value) stops parsing and throws HelpRequested, which no
// command catches: main.cc prints that command's usage on stdout and exits 0, so every command
// answers --help the same way without code of its own.
//
// A value option takes the next word whatever it looks like ("--rules -x" gives "-x"), and with
// `equals_form` also "--name=value". There is no "--" end-of-options marker.
#pragma once

#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace promptgate::cli {

enum class OptionKind {
  flag,   // --strict: present or not
  value,  // --format text
};

struct OptionSpec {
  std::string_view name;  // with its dashes: "--format"
  OptionKind kind = OptionKind::flag;
  // For a value option: the only values accepted ("--format must be jsonl, text or sarif");
  // empty accepts any.
  std::vector<std::string_view> choices = {};
};

struct ArgumentSpec {
  std::vector<OptionSpec> options = {};
  // Accept positionals: "-" (stdin), an empty word, or any word not starting with '-'. Without
  // this, such a word is an unknown option.
  bool positionals = false;
  // Accept "--name=value" for value options as well as "--name value".
  bool equals_form = false;
};

struct Option {
  std::string name;   // as in the spec: "--format"
  std::string value;  // empty for a flag
};

struct Arguments {
  std::vector<Option> options;  // in command-line order
  std::vector<std::string> positionals;

  bool has(std::string_view name) const;
  // The value given last for `name` (a later one wins), if any.
  std::optional<std::string> last(std::string_view name) const;
  // Every value given for `name`, in order (for options that may repeat, like --rules).
  std::vector<std::string> all(std::string_view name) const;
};

class ArgumentError : public std::invalid_argument {
 public:
  enum class Kind {
    unknown_option,  // "unknown option --bogus"
    missing_value,   // "--format needs a value"
    bad_choice,      // "--format must be jsonl, text or sarif"
  };
  ArgumentError(Kind kind, std::string option, const std::string& message)
      : std::invalid_argument(message), kind_(kind), option_(std::move(option)) {}

  Kind kind() const { return kind_; }
  // The option as written ("--bogus"; for "--name=value" forms, the name).
  const std::string& option() const { return option_; }

 private:
  Kind kind_;
  std::string option_;
};

// Thrown for "--help" / "-h". Deliberately not a std::exception, so that a command's
// catch (const std::exception&) around its parsing does not turn help into an error.
struct HelpRequested {};

Arguments parse_arguments(std::span<const std::string> words, const ArgumentSpec& spec);

}  // namespace promptgate::cli
