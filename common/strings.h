// String helpers on std::string_view. (Debian's Abseil has its own
// absl::string_view, so its string utilities do not mix with std types;
// Bulkhead uses fmt and these instead.)
#ifndef BULKHEAD_COMMON_STRINGS_H_
#define BULKHEAD_COMMON_STRINGS_H_

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulkhead {

// Splits on any of `separators`; empty pieces are dropped.
inline std::vector<std::string_view> SplitNonEmpty(std::string_view text,
                                                   std::string_view separators) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find_first_of(separators, start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    if (end > start) {
      pieces.push_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
  return pieces;
}

inline std::string_view TrimSpace(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) {
    return {};
  }
  size_t end = text.find_last_not_of(kSpace);
  return text.substr(begin, end - begin + 1);
}

inline bool ConsumePrefix(std::string_view& text, std::string_view prefix) {
  if (text.substr(0, prefix.size()) != prefix) {
    return false;
  }
  text.remove_prefix(prefix.size());
  return true;
}

// The whole of `text` as an integer in `base`, or nothing.
template <typename T>
std::optional<T> ParseInteger(std::string_view text, int base = 10) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, base);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or
// code points past U+10FFFF).
inline bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    unsigned min_second = 0x80;
    unsigned max_second = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      min_second = c == 0xe0 ? 0xa0 : 0x80;
      max_second = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      min_second = c == 0xf0 ? 0x90 : 0x80;
      max_second = c == 0xf4 ? 0x8f : 0xbf;
    } else {
      return false;
    }
    if (text.size() - i < length) {
      return false;
    }
    auto second = static_cast<unsigned char>(text[i + 1]);
    if (second < min_second || second > max_second) {
      return false;
    }
    for (size_t k = 2; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if (next < 0x80 || next > 0xbf) {
        return false;
      }
    }
    i += length;
  }
  return true;
}

}  // namespace bulkhead

#endif  // BULKHEAD_COMMON_STRINGS_H_
