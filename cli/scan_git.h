// What `promptgate scan --staged` and `--git RANGE` read from git: the `git` CLI run with an
// argument vector (no shell), its output streamed; the staged blobs of the index; the added
// lines of each commit's diff, with their line numbers in that commit's version of the file.
//
//   std::string top = git_toplevel();                     // throws GitError with git's message
//   for (const StagedFile& f : staged_files(top)) {
//     GitProcess blob({"git", "-C", top, "cat-file", "blob", f.blob});
//     ... blob.out() ...; blob.finish();                   // throws GitError when git failed
//   }
//   GitProcess log(git_log_argv(top, "main..HEAD"));
//   AddedLinesReader reader(skip_path, [](AddedText& t) { /* scan t.text */ });
//   for (std::string line; std::getline(log.out(), line);) reader.line(line);
//   reader.finish(); log.finish();
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace promptgate::scan {

// git could not be run or exited non-zero; what() is git's own message (its stderr).
struct GitError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A child process started with posix_spawnp: its stdout read as a stream, its stderr kept in an
// unlinked temporary file (so that a chatty stderr cannot block it) for the error message.
class GitProcess {
 public:
  explicit GitProcess(const std::vector<std::string>& argv);
  ~GitProcess();
  GitProcess(const GitProcess&) = delete;
  GitProcess& operator=(const GitProcess&) = delete;

  std::istream& out() { return *out_; }
  // Waits for the child; throws GitError with its stderr (or how it ended) unless it exited 0.
  void finish();

 private:
  struct Buffer;
  std::unique_ptr<Buffer> buffer_;
  std::unique_ptr<std::istream> out_;
  int stderr_fd_ = -1;
  pid_t pid_ = -1;
  std::string name_;
};

// The top directory of the work tree the current directory is in.
std::string git_toplevel();

// A file staged in the index (added, copied, modified or its type changed to a regular file):
// its path from the top of the repository and its blob.
struct StagedFile {
  std::string path;
  std::string blob;
};
std::vector<StagedFile> staged_files(const std::string& top);

// `git log -p` over RANGE with only the lines each commit added (-U0), paths unabbreviated and
// prefixes fixed whatever the user's configuration says. Throws GitError when RANGE starts
// with '-' (it would be read as an option).
std::vector<std::string> git_log_argv(const std::string& top, const std::string& range);

// The lines one commit added to one file, joined with '\n'; `lines[i]` is the line number of the
// text's line i + 1 in that commit's version of the file. A file's added lines past `cap` bytes
// come as more than one AddedText.
struct AddedText {
  std::string commit;  // abbreviated sha
  std::string path;    // from the top of the repository
  std::string text;
  std::vector<uint64_t> lines;
};

// Reads `git_log_argv` output line by line (without the '\n'), handing each file's added lines
// to `sink`; a path `skip` returns true for is not kept.
class AddedLinesReader {
 public:
  AddedLinesReader(std::function<bool(const std::string&)> skip,
                   std::function<void(AddedText&)> sink, size_t cap = 16u << 20);
  void line(std::string_view line);
  void finish() { flush(); }

 private:
  void flush();
  std::function<bool(const std::string&)> skip_;
  std::function<void(AddedText&)> sink_;
  size_t cap_;
  AddedText current_;
  bool keep_ = false;
  uint64_t old_left_ = 0, new_left_ = 0, next_line_ = 0;
};

// A path as git prints it in a diff header: C-quoted ("a\tb") when it holds unusual bytes.
std::string unquote_git_path(std::string_view path);

}  // namespace promptgate::scan
