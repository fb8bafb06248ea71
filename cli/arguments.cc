// The CLI's argument parser; what it accepts and how to use it is in arguments.h.
#include "cli/arguments.h"

#include <algorithm>

namespace promptgate::cli {

namespace {

const OptionSpec* find_option(const ArgumentSpec& spec, std::string_view name) {
  for (const auto& o : spec.options)
    if (o.name == name) return &o;
  return nullptr;
}

// "--format must be jsonl, text or sarif"
std::string choices_message(const OptionSpec& o) {
  std::string message = std::string(o.name) + " must be ";
  for (size_t i = 0; i < o.choices.size(); ++i) {
    if (i > 0) message += i + 1 == o.choices.size() ? " or " : ", ";
    message += o.choices[i];
  }
  return message;
}

void check_choice(const OptionSpec& o, const std::string& value) {
  if (!o.choices.empty() && std::find(o.choices.begin(), o.choices.end(), value) == o.choices.end())
    throw ArgumentError(ArgumentError::Kind::bad_choice, std::string(o.name), choices_message(o));
}

[[noreturn]] void unknown(std::string option) {
  std::string message = "unknown option " + option;
  throw ArgumentError(ArgumentError::Kind::unknown_option, std::move(option), message);
}

bool is_positional(std::string_view word) {
  return word == "-" || word.empty() || word[0] != '-';
}

}  // namespace

bool Arguments::has(std::string_view name) const {
  return std::any_of(options.begin(), options.end(),
                     [&](const Option& o) { return o.name == name; });
}

std::optional<std::string> Arguments::last(std::string_view name) const {
  for (auto it = options.rbegin(); it != options.rend(); ++it)
    if (it->name == name) return it->value;
  return std::nullopt;
}

std::vector<std::string> Arguments::all(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& o : options)
    if (o.name == name) values.push_back(o.value);
  return values;
}

Arguments parse_arguments(std::span<const std::string> words, const ArgumentSpec& spec) {
  Arguments out;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word == "--help" || word == "-h") throw HelpRequested{};
    if (const OptionSpec* o = find_option(spec, word)) {
      if (o->kind == OptionKind::flag) {
        out.options.push_back({word, ""});
        continue;
      }
      if (i + 1 >= words.size())
        throw ArgumentError(ArgumentError::Kind::missing_value, word, word + " needs a value");
      check_choice(*o, words[i + 1]);
      out.options.push_back({word, words[++i]});
      continue;
    }
    size_t eq = word.find('=');
    if (spec.equals_form && word.starts_with("--") && eq != std::string::npos) {
      std::string name = word.substr(0, eq);
      const OptionSpec* named = find_option(spec, name);
      if (!named || named->kind != OptionKind::value) unknown(name);
      std::string value = word.substr(eq + 1);
      check_choice(*named, value);
      out.options.push_back({std::move(name), std::move(value)});
      continue;
    }
    if (spec.positionals && is_positional(word)) {
      out.positionals.push_back(word);
      continue;
    }
    unknown(word);
  }
  return out;
}

}  // namespace promptgate::cli
