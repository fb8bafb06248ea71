// promptgate demo: prints synthetic values, one per kind and at least one in every category,
// that the running proxy blocks, each with a one-line curl to try it through the proxy (see
// demo_values.h for how they are made and checked; docs/quickstart.md and docs/blocked.md use
// them).
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/demo_values.h"
#include "proxy/config.h"

namespace promptgate {

extern const char kDemoUsage[] =
    R"(usage: promptgate demo [--proxy URL] [--ca FILE] [--config FILE] [--format text|json]
                       [--seed N]
Prints synthetic values that promptgate blocks (a credential, PII, PHI and card data), made now
from public format facts and checked against the rules and the config, each with a curl command
that sends it through the proxy. None is a real credential, card or person.
  --proxy URL      the proxy the curl lines go through (default "$HTTPS_PROXY" when it is set,
                   else http://127.0.0.1:8080)
  --ca FILE        the CA they trust (default "$NODE_EXTRA_CA_CERTS" when it is set, else
                   $PROMPTGATE_HOME/ca.pem)
  --config FILE    check the values against this config and its rules (default: the embedded one)
  --format json    one JSON object per value and line, with the request body and the curl line
  --seed N         the same values every time (default: new ones on each run)
)";

namespace {

const cli::ArgumentSpec kArgs{.options = {{"--proxy", cli::OptionKind::value},
                                          {"--ca", cli::OptionKind::value},
                                          {"--config", cli::OptionKind::value},
                                          {"--format", cli::OptionKind::value, {"text", "json"}},
                                          {"--seed", cli::OptionKind::value}},
                              .equals_form = true};

// One word for a POSIX shell: single-quoted, with embedded single quotes closed and escaped.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The shell word for an option's value: what was given, quoted; else the variable the shell of
// the quick start has set (named, not expanded: HTTPS_PROXY may hold a gateway secret); else
// `fallback`, quoted.
std::string shell_word(const cli::Arguments& a, const char* option, const char* variable,
                       const std::string& fallback) {
  if (auto given = a.last(option)) return shell_quote(*given);
  if (const char* set = std::getenv(variable); set && *set)
    return std::string("\"$") + variable + "\"";
  return shell_quote(fallback);
}

std::string curl_line(const std::string& proxy, const std::string& ca, const DemoValue& v) {
  return "curl -sS -w '\\n' -x " + proxy + " --cacert " + ca +
         " https://api.anthropic.com/v1/messages -H 'content-type: application/json' -d " +
         shell_quote(demo_request_body(v.text));
}

uint64_t seed_from(const cli::Arguments& a) {
  if (auto s = a.last("--seed")) {
    size_t used = 0;
    uint64_t v = std::stoull(*s, &used);  // throws std::invalid_argument on a non-number
    if (used != s->size()) throw std::invalid_argument("--seed must be a number");
    return v;
  }
  return (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
}

void print_text(const std::vector<DemoValue>& values, const std::string& proxy,
                const std::string& ca, const std::string& source) {
  std::cout << "Synthetic values that promptgate blocks (checked against the rules and the "
            << source << "),\nmade now from public format facts: none is a real credential, "
            << "card or person.\nWith the proxy running (promptgate run), send any of them "
            << "with its curl line:\n";
  for (const auto& v : values) {
    std::cout << "\n"
              << v.category << "  " << v.rule << "  " << v.value << "\n"
              << "  (" << v.made_of << ")\n"
              << "  " << curl_line(proxy, ca, v) << "\n";
  }
  std::cout << "\nEach answer is HTTP 400 with an API error that names the rule, never the value,"
            << "\nand nothing reaches the model API. Why 4111111111111111, 123-45-6789 or ghp_ "
            << "with 36\nrandom letters are not blocked: docs/blocked.md#trying-it-out\n";
}

}  // namespace

int demo_command(const Args& args) {
  cli::Arguments a;
  uint64_t seed = 0;
  try {
    a = cli::parse_arguments(args, kArgs);
    seed = seed_from(a);
  } catch (const std::exception& e) {
    std::cerr << "promptgate demo: " << e.what() << "\n" << kDemoUsage;
    return 2;
  }
  const std::string home = default_home_dir();
  const std::string proxy = shell_word(a, "--proxy", "HTTPS_PROXY", "http://127.0.0.1:8080");
  const std::string ca = shell_word(a, "--ca", "NODE_EXTRA_CA_CERTS", home + "/ca.pem");
  try {
    proxy::ProxyConfig config = proxy::load_config(a.last("--config").value_or(""));
    auto rules = RuleSet::compile(load_rule_packs(rule_sources(config.rules, config.rules_builtin)),
                                  home + "/cache");
    std::vector<DemoValue> values = make_demo_values(rules, config, seed);
    if (a.last("--format").value_or("text") == "json") {
      for (const auto& v : values)
        std::cout << nlohmann::json{{"category", v.category},
                                    {"rule", v.rule},
                                    {"value", v.value},
                                    {"text", v.text},
                                    {"made_of", v.made_of},
                                    {"body", demo_request_body(v.text)},
                                    {"curl", curl_line(proxy, ca, v)}}
                         .dump()
                  << "\n";
    } else {
      print_text(values, proxy, ca, config.source);
    }
  } catch (const std::exception& e) {
    std::cerr << "promptgate demo: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace promptgate
