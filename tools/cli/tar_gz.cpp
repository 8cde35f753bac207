#include "tools/cli/tar_gz.hpp"

#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <zlib.h>

namespace outpost::cli {

namespace {

void octal(char* field, std::size_t width, std::uint64_t value) {
  // width - 1 digits and a NUL, as ustar wants.
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(value));
}

std::string header(const archive_file& f, std::int64_t mtime) {
  std::string h(512, '\0');
  char* p = h.data();
  std::memcpy(p, f.path.data(), std::min<std::size_t>(f.path.size(), 99));
  octal(p + 100, 8, 0600);
  octal(p + 108, 8, 0);
  octal(p + 116, 8, 0);
  octal(p + 124, 12, f.content.size());
  octal(p + 136, 12, static_cast<std::uint64_t>(mtime));
  std::memset(p + 148, ' ', 8); // the checksum counts itself as spaces
  p[156] = '0';                 // a regular file
  std::memcpy(p + 257, "ustar", 6);
  std::memcpy(p + 263, "00", 2);
  unsigned sum = 0;
  for (unsigned char c : h) {
    sum += c;
  }
  std::snprintf(p + 148, 8, "%06o", sum);
  p[155] = ' ';
  return h;
}

std::string gzip(const std::string& in) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("zlib: deflateInit2 failed");
  }
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    throw std::runtime_error("zlib: deflate did not finish");
  }
  return out;
}

} // namespace

std::string tar_gz(const std::vector<archive_file>& files, std::int64_t mtime) {
  std::string tar;
  for (const auto& f : files) {
    tar += header(f, mtime);
    tar += f.content;
    tar.append((512 - f.content.size() % 512) % 512, '\0');
  }
  tar.append(1024, '\0'); // two empty blocks end the archive
  return gzip(tar);
}

} // namespace outpost::cli
