// Reading attachments where no proxy runs: `promptgate scan` over files and stdin. A file that
// is itself a PDF, a picture or an office file is read whole; a JSON body (a saved request, a
// transcript) has its attachments read as the proxy would. Sequential, on the caller's thread,
// with the same readers and limits as the proxy's read stage.
//
//   std::vector<Attachment> todo = std::move(scan_result.attachments);
//   if (auto a = whole_file_attachment(bytes)) todo.push_back(std::move(*a));
//   AttachmentReport r = read_and_scan(scanner, todo, ReadLimits{});
//   // r.findings located "(pdf page 2)" or "messages[0].content[1].source (pdf page 2)";
//   // r.problems: one line per attachment that could not be read, naming the reason
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/attachments.h"
#include "detectors/engine.h"
#include "detectors/readers/readers.h"

namespace promptgate {

// The whole of `bytes` as an attachment when its first bytes say it is one a reader opens
// (location "", so findings are located by the reader's label alone: "pdf page 2"); nullopt
// for anything else. Over AttachmentLimits::max_attachment_bytes it is listed unreadable.
std::optional<Attachment> whole_file_attachment(std::string_view bytes,
                                                const AttachmentLimits& limits = {});

struct AttachmentReport {
  std::vector<Finding> findings;
  std::vector<std::string> problems;  // "<where>: unreadable (<reason>)" or "...: timeout (...)"
  uint32_t read = 0;
};

AttachmentReport read_and_scan(Scanner& scanner, const std::vector<Attachment>& attachments,
                               const ReadLimits& limits);

}  // namespace promptgate
