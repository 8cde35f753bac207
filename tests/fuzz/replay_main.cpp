// Replays a fuzz corpus without libFuzzer: calls LLVMFuzzerTestOneInput once per file of the
// directories given on the command line, so ctest runs every seed and past crash in every
// build. A failing input traps inside the fuzz target; the name of the file is printed first.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int replay(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::cerr << "cannot read " << file << "\n";
    return 1;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::cerr << "replaying " << file.filename().string() << " (" << bytes.size() << " bytes)\n";
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR...\n";
    return 2;
  }
  std::size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(argv[i], ec)) {
      if (entry.is_regular_file()) {
        files.push_back(entry.path());
      }
    }
    if (ec) {
      std::cerr << "cannot list " << argv[i] << ": " << ec.message() << "\n";
      return 1;
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      if (replay(file) != 0) {
        return 1;
      }
      ++count;
    }
  }
  if (count == 0) {
    std::cerr << "no corpus files found\n";
    return 1;
  }
  std::cout << "replayed " << count << " inputs\n";
  return 0;
}
