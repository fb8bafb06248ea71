// git as `promptgate scan --staged` / `--git` runs and reads it; see scan_git.h.
#include "cli/scan_git.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <streambuf>

extern char** environ;

namespace promptgate::scan {

// The read end of the child's stdout as a streambuf.
struct GitProcess::Buffer : std::streambuf {
  explicit Buffer(int read_fd) : fd(read_fd) {}
  ~Buffer() override { close_fd(); }
  void close_fd() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (fd < 0) return traits_type::eof();
    ssize_t n;
    do n = ::read(fd, data, sizeof data);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return traits_type::eof();
    setg(data, data, data + n);
    return traits_type::to_int_type(*gptr());
  }
  int fd;
  char data[1 << 16];
};

GitProcess::GitProcess(const std::vector<std::string>& argv) : name_(argv.at(0)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw GitError(std::string("pipe: ") + std::strerror(errno));
  buffer_ = std::make_unique<Buffer>(fds[0]);
  out_ = std::make_unique<std::istream>(buffer_.get());
  stderr_fd_ = ::memfd_create("promptgate-git-stderr", MFD_CLOEXEC);
  if (stderr_fd_ < 0) {
    ::close(fds[1]);
    throw GitError(std::string("memfd_create: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, stderr_fd_, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = ::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    pid_ = -1;
    throw GitError(name_ + ": cannot run it: " + std::strerror(rc));
  }
}

GitProcess::~GitProcess() {
  buffer_->close_fd();  // a child still writing gets SIGPIPE rather than blocking the wait
  if (pid_ > 0) {
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
}

void GitProcess::finish() {
  buffer_->close_fd();
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::string message;
  char buf[4096];
  ssize_t n = ::pread(stderr_fd_, buf, sizeof buf, 0);
  if (n > 0) message.assign(buf, static_cast<size_t>(n));
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (message.empty())
    message =
        name_ + (WIFEXITED(status) ? " exited with status " + std::to_string(WEXITSTATUS(status))
                                   : " was killed by signal " + std::to_string(WTERMSIG(status)));
  throw GitError(message);
}

std::string git_toplevel() {
  GitProcess git({"git", "rev-parse", "--show-toplevel"});
  std::string top;
  std::getline(git.out(), top);
  git.finish();
  if (top.empty())
    throw GitError("git rev-parse --show-toplevel printed nothing (a bare repository?)");
  return top;
}

std::vector<StagedFile> staged_files(const std::string& top) {
  // ":100644 100644 <old> <new> M\0path\0" per file; renames as a deletion and an addition.
  GitProcess git({"git", "-C", top, "diff", "--cached", "--raw", "-z", "--no-abbrev",
                  "--no-renames", "--no-ext-diff", "--diff-filter=ACMT"});
  std::vector<StagedFile> out;
  for (std::string header, path;
       std::getline(git.out(), header, '\0') && std::getline(git.out(), path, '\0');) {
    // Regular files only: not symbolic links (120000) nor submodules (160000).
    std::string_view h = header;
    if (h.size() < 15 || h[0] != ':' || h.substr(8, 2) != "10") continue;
    size_t old_end = h.find(' ', 15);  // after the new mode: the old sha, then the new one
    if (old_end == std::string_view::npos) continue;
    size_t new_end = h.find(' ', old_end + 1);
    if (new_end == std::string_view::npos) continue;
    std::string id(h.substr(old_end + 1, new_end - old_end - 1));
    if (id.find_first_not_of('0') == std::string::npos) continue;  // unmerged
    out.push_back({path, id});
  }
  git.finish();
  return out;
}

std::vector<std::string> git_log_argv(const std::string& top, const std::string& range) {
  if (range.empty() || range[0] == '-')
    throw GitError("--git takes a revision range (main..HEAD, HEAD~5..HEAD, HEAD), not '" + range +
                   "'");
  return {"git",
          "--no-pager",
          "-C",
          top,
          "-c",
          "core.quotePath=false",
          "-c",
          "log.showSignature=false",
          "log",
          "-p",
          "-U0",
          "--no-color",
          "--no-ext-diff",
          "--no-textconv",
          "--src-prefix=a/",
          "--dst-prefix=b/",
          "--format=commit %h",
          "--end-of-options",
          range,
          "--"};
}

std::string unquote_git_path(std::string_view p) {
  if (p.size() < 2 || p.front() != '"' || p.back() != '"') return std::string(p);
  p = p.substr(1, p.size() - 2);
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] != '\\' || i + 1 == p.size()) {
      out += p[i];
      continue;
    }
    char c = p[++i];
    if (c >= '0' && c <= '7') {
      int v = 0;
      for (int k = 0; k < 3 && i < p.size() && p[i] >= '0' && p[i] <= '7'; ++k, ++i)
        v = v * 8 + (p[i] - '0');
      --i;
      out += static_cast<char>(v);
      continue;
    }
    static constexpr std::string_view from = "abtnvfr", to = "\a\b\t\n\v\f\r";
    size_t k = from.find(c);
    out += k == std::string_view::npos ? c : to[k];
  }
  return out;
}

AddedLinesReader::AddedLinesReader(std::function<bool(const std::string&)> skip,
                                   std::function<void(AddedText&)> sink, size_t cap)
    : skip_(std::move(skip)), sink_(std::move(sink)), cap_(cap) {}

void AddedLinesReader::flush() {
  if (!current_.text.empty()) sink_(current_);
  current_.text.clear();
  current_.lines.clear();
}

namespace {

// "12,3" or "12" (a count of 1) after the sign; false when neither.
bool parse_range(std::string_view& s, char sign, uint64_t& start, uint64_t& count) {
  if (s.empty() || s[0] != sign) return false;
  s.remove_prefix(1);
  auto r = std::from_chars(s.data(), s.data() + s.size(), start);
  if (r.ec != std::errc()) return false;
  s.remove_prefix(static_cast<size_t>(r.ptr - s.data()));
  count = 1;
  if (!s.empty() && s[0] == ',') {
    s.remove_prefix(1);
    r = std::from_chars(s.data(), s.data() + s.size(), count);
    if (r.ec != std::errc()) return false;
    s.remove_prefix(static_cast<size_t>(r.ptr - s.data()));
  }
  if (!s.empty() && s[0] == ' ') s.remove_prefix(1);
  return true;
}

}  // namespace

void AddedLinesReader::line(std::string_view line) {
  if (old_left_ || new_left_) {
    // Within a hunk the counts say where it ends: an added line may read "+++ b/x" too.
    char c = line.empty() ? ' ' : line[0];
    if (c == '+' && new_left_) {
      if (keep_) {
        current_.text.append(line.substr(1));
        current_.text += '\n';
        current_.lines.push_back(next_line_);
        if (current_.text.size() >= cap_) flush();
      }
      --new_left_;
      ++next_line_;
      return;
    }
    if (c == '-' && old_left_) {
      --old_left_;
      return;
    }
    if (c == '\\') return;      // "\ No newline at end of file"
    old_left_ = new_left_ = 0;  // not a hunk line after all: read it as a header
  }
  if (line.substr(0, 7) == "commit ") {
    flush();
    current_.commit = std::string(line.substr(7));
    current_.path.clear();
    keep_ = false;
  } else if (line.substr(0, 11) == "diff --git ") {
    flush();
    current_.path.clear();
    keep_ = false;
  } else if (line.substr(0, 4) == "+++ ") {
    flush();
    std::string path = unquote_git_path(line.substr(4));
    keep_ = path.rfind("b/", 0) == 0;
    current_.path = keep_ ? path.substr(2) : std::string();
    if (keep_ && skip_(current_.path)) keep_ = false;
  } else if (line.substr(0, 3) == "@@ ") {
    std::string_view s = line.substr(3);
    uint64_t old_start, old_count, new_start, new_count;
    if (parse_range(s, '-', old_start, old_count) && parse_range(s, '+', new_start, new_count)) {
      old_left_ = old_count;
      new_left_ = new_count;
      next_line_ = new_start;
    }
  }
}

}  // namespace promptgate::scan
