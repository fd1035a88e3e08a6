// Text helpers every module shares: printf-style formatting into a
// std::string and UTC timestamps; and text from users (names, file contents,
// flag values) made safe to show or store: escaping for a terminal, a UTF-8
// check, and the CSV cell guard every CSV writer uses. Pure functions; any
// thread.
#pragma once

#include <string>

namespace cs {

// printf-style formatting into a std::string of any length (no fixed buffer
// to truncate at). The attribute lets the compiler check the arguments.
std::string StringPrintf(const char* format, ...) __attribute__((format(printf, 1, 2)));

// `unix_seconds` (rounded down to the second) in UTC through
// strftime(`strftime_format`), e.g. "%Y-%m-%d %H:%M UTC". Uses gmtime_r, so
// it is safe from any thread; "" if the result exceeds 63 bytes.
std::string FormatUtc(double unix_seconds, const char* strftime_format);

// `text` with every byte below 0x20 and 0x7f written as \xNN (and a
// backslash kept as is), so an error line naming user data cannot move the
// cursor, recolour the terminal or forge a second line. Used by ReportError.
std::string EscapeForTerminal(const std::string& text);

// A number as a user would write it in a flag ("%g": 1.5, 1e+308, nan), for
// messages that name a value.
std::string FormatNumber(double value);

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code
// points above U+10FFFF).
bool IsValidUtf8(const std::string& text);

// A CSV cell that came from user data (a name, params, a reason, a path)
// neutralised against spreadsheet formula injection: a cell starting with
// '=', '+', '-', '@', a tab or a carriage return gets a leading "'" (as
// OWASP recommends). Numbers the program writes itself must not go through
// this: they stay numbers.
std::string NeutraliseCsvText(const std::string& cell);

}  // namespace cs
