// promptgate passwd USER: reads a secret from stdin (prompting without echo on a terminal) and
// prints the `USER:pbkdf2-sha256$...` line to append to the gateway's users file.
#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "proxy/proxy_auth.h"

namespace promptgate {

namespace {

constexpr size_t kMaxSecretBytes = 1024;

// The terminal settings to restore if SIGINT/SIGTERM arrives while echo is off.
struct termios g_saved_termios;

extern "C" void restore_termios_and_reraise(int sig) {
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);  // async-signal-safe
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// Turns terminal echo off for its lifetime (and on again on a signal).
class NoEcho {
 public:
  NoEcho() {
    if (::tcgetattr(STDIN_FILENO, &g_saved_termios) != 0) return;
    struct termios quiet = g_saved_termios;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    old_int_ = std::signal(SIGINT, restore_termios_and_reraise);
    old_term_ = std::signal(SIGTERM, restore_termios_and_reraise);
    active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  ~NoEcho() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
    if (old_int_ != SIG_ERR) std::signal(SIGINT, old_int_);
    if (old_term_ != SIG_ERR) std::signal(SIGTERM, old_term_);
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  bool active_ = false;
  void (*old_int_)(int) = SIG_ERR;
  void (*old_term_)(int) = SIG_ERR;
};

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// One line from stdin without its line ending; false at end of input with nothing read.
bool read_line(std::string& out) {
  if (!std::getline(std::cin, out) && out.empty()) return false;
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return true;
}

}  // namespace

extern const char kPasswdUsage[] =
    "usage: promptgate passwd USER\n"
    "  Reads the secret from stdin (the first line; prompts without echo on a terminal) and\n"
    "  prints USER:pbkdf2-sha256$... to append to the gateway's users file.\n";

int passwd_command(const Args& args) {
  constexpr const char* kUsage = kPasswdUsage;
  cli::Arguments parsed;
  try {
    parsed = cli::parse_arguments(args, {.positionals = true});
  } catch (const cli::ArgumentError&) {
    std::cerr << kUsage;
    return 2;
  }
  // One user name: "-" and "" are positionals to the parser, but no name.
  const auto& names = parsed.positionals;
  if (names.size() != 1 || names[0].empty() || names[0][0] == '-') {
    std::cerr << kUsage;
    return 2;
  }
  const std::string& user = names[0];
  std::string secret;
  std::string again;
  try {
    // Validate the name before asking for a secret.
    proxy::hash_secret_for_file(user, "x");
  } catch (const std::invalid_argument& e) {
    std::cerr << "promptgate passwd: " << e.what() << "\n";
    return 2;
  }
  bool tty = ::isatty(STDIN_FILENO) == 1;
  if (tty) {
    NoEcho no_echo;
    std::cerr << "Secret for " << user << ": " << std::flush;
    bool ok = read_line(secret);
    if (ok && !secret.empty()) {
      std::cerr << "Again: " << std::flush;
      ok = read_line(again);
    }
    if (!ok) {
      wipe(secret);
      std::cerr << "\npromptgate passwd: no secret given\n";
      return 2;
    }
  } else if (!read_line(secret)) {
    std::cerr << "promptgate passwd: no secret on stdin (pipe it in, e.g. from a secrets "
                 "manager, or run on a terminal)\n";
    return 2;
  }
  int status = 0;
  if (secret.empty()) {
    std::cerr << "promptgate passwd: the secret is empty\n";
    status = 2;
  } else if (secret.size() > kMaxSecretBytes) {
    std::cerr << "promptgate passwd: the secret is longer than " << kMaxSecretBytes << " bytes\n";
    status = 2;
  } else if (tty && secret != again) {
    std::cerr << "promptgate passwd: the secrets do not match\n";
    status = 2;
  } else {
    try {
      std::string line = proxy::hash_secret_for_file(user, secret);
      std::cout << line << "\n" << std::flush;
      if (!std::cout) {
        std::cerr << "promptgate passwd: cannot write to stdout\n";
        status = 2;
      } else if (tty && ::isatty(STDOUT_FILENO) == 1) {
        std::cerr << "Append this line to the users file (mode 600 or 640), e.g. "
                     "`promptgate passwd "
                  << user << " >> /etc/promptgate/users`.\n";
      }
    } catch (const std::exception& e) {
      std::cerr << "promptgate passwd: " << e.what() << "\n";
      status = 2;
    }
  }
  wipe(secret);
  wipe(again);
  return status;
}

}  // namespace promptgate
