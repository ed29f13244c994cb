#include "common/quantity.h"

#include <array>
#include <limits>
#include <utility>

namespace bulkhead {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

int64_t SaturatingMul(int64_t a, int64_t b) {
  if (a != 0 && (a > kMax / b || a < -kMax / b)) {
    return a > 0 ? kMax : -kMax;
  }
  return a * b;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (b > 0 && a > kMax - b) {
    return kMax;
  }
  if (b < 0 && a < -kMax - b) {
    return -kMax;
  }
  return a + b;
}

}  // namespace

std::optional<Quantity> Quantity::Parse(std::string_view text) {
  if (text.empty() || text.size() > 64) {
    return std::nullopt;
  }
  size_t i = 0;
  bool negative = false;
  if (text[0] == '+' || text[0] == '-') {
    negative = text[0] == '-';
    ++i;
  }
  // Digits with at most one point; at most 18 significant digits kept.
  int64_t digits = 0;
  int scale = 0;  // digits after the point
  bool seen_digit = false;
  bool point = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      seen_digit = true;
      if (digits < kMax / 100) {
        digits = digits * 10 + (c - '0');
        scale += point ? 1 : 0;
      } else if (!point) {
        return std::nullopt;  // too large to hold
      }
    } else if (c == '.' && !point) {
      point = true;
    } else {
      break;
    }
  }
  if (!seen_digit) {
    return std::nullopt;
  }
  const std::string_view suffix = text.substr(i);
  Quantity q;
  int exponent10 = 0;
  int64_t multiplier = 1;
  static const std::array<std::pair<std::string_view, int>, 6> kBinary = {
      {{"Ki", 1}, {"Mi", 2}, {"Gi", 3}, {"Ti", 4}, {"Pi", 5}, {"Ei", 6}}};
  static const std::array<std::pair<std::string_view, int>, 8> kDecimal = {
      {{"n", -9}, {"u", -6}, {"m", -3}, {"k", 3}, {"M", 6}, {"G", 9}, {"T", 12}, {"P", 15}}};
  bool known = suffix.empty();
  for (const auto& [name, power] : kBinary) {
    if (suffix == name) {
      for (int p = 0; p < power; ++p) {
        multiplier = SaturatingMul(multiplier, 1024);
      }
      q.binary = known = true;
    }
  }
  for (const auto& [name, power] : kDecimal) {
    if (suffix == name) {
      exponent10 = power;
      known = true;
    }
  }
  if (suffix == "E") {
    exponent10 = 18;
    known = true;
  } else if (!known && (suffix[0] == 'e' || suffix[0] == 'E') && suffix.size() > 1) {
    int sign = 1;
    size_t j = 1;
    if (suffix[j] == '+' || suffix[j] == '-') {
      sign = suffix[j] == '-' ? -1 : 1;
      ++j;
    }
    int value = 0;
    for (; j < suffix.size(); ++j) {
      if (suffix[j] < '0' || suffix[j] > '9' || value > 100) {
        return std::nullopt;
      }
      value = value * 10 + (suffix[j] - '0');
    }
    if (j == 1 || (j == 2 && (suffix[1] == '+' || suffix[1] == '-'))) {
      return std::nullopt;
    }
    exponent10 = sign * value;
    known = true;
  }
  if (!known) {
    return std::nullopt;
  }
  // milli = digits * 10^(exponent10 + 3 - scale) * multiplier, rounded up
  // as Kubernetes rounds a fraction of a milli-unit up.
  int64_t value = SaturatingMul(digits, multiplier);
  int power = exponent10 + 3 - scale;
  for (; power > 0; --power) {
    value = SaturatingMul(value, 10);
  }
  bool remainder = false;
  for (; power < 0; ++power) {
    remainder = remainder || value % 10 != 0;
    value /= 10;
  }
  if (remainder) {
    value = SaturatingAdd(value, 1);
  }
  q.milli = negative ? -value : value;
  return q;
}

std::string Quantity::ToString() const {
  if (milli % 1000 != 0) {
    return std::to_string(milli) + "m";
  }
  int64_t units = milli / 1000;
  if (units == 0) {
    return "0";
  }
  if (binary) {
    static const std::array<std::string_view, 6> kNames = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    std::string_view name;
    for (std::string_view next : kNames) {
      if (units % 1024 != 0) {
        break;
      }
      units /= 1024;
      name = next;
    }
    return std::to_string(units) + std::string(name);
  }
  static const std::array<std::string_view, 6> kNames = {"k", "M", "G", "T", "P", "E"};
  std::string_view name;
  for (std::string_view next : kNames) {
    if (units % 1000 != 0) {
      break;
    }
    units /= 1000;
    name = next;
  }
  return std::to_string(units) + std::string(name);
}

Quantity& Quantity::operator+=(const Quantity& other) {
  milli = SaturatingAdd(milli, other.milli);
  binary = binary || other.binary;
  return *this;
}

Quantity operator-(Quantity a, const Quantity& b) {
  a.milli = SaturatingAdd(a.milli, -b.milli);
  return a;
}

}  // namespace bulkhead
