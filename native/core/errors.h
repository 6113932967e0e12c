// The error model: every failure below the JS layer is a TesseraException with a
// code from DESIGN's list; napi/ turns it into a JS TesseraError.
#pragma once

#include <stdexcept>
#include <string>

namespace tessera {

enum class ErrorCode {
  kShape,
  kDType,
  kDevice,
  kArgument,
  kDisposed,
  kOutOfMemory,
  kUnsupported,
  kBackend,
  kInternal,
};

inline const char* errorCodeName(ErrorCode c) {
  switch (c) {
    case ErrorCode::kShape: return "E_SHAPE";
    case ErrorCode::kDType: return "E_DTYPE";
    case ErrorCode::kDevice: return "E_DEVICE";
    case ErrorCode::kArgument: return "E_ARGUMENT";
    case ErrorCode::kDisposed: return "E_DISPOSED";
    case ErrorCode::kOutOfMemory: return "E_OOM";
    case ErrorCode::kUnsupported: return "E_UNSUPPORTED";
    case ErrorCode::kBackend: return "E_BACKEND";
    case ErrorCode::kInternal: return "E_INTERNAL";
  }
  return "E_INTERNAL";
}

class TesseraException : public std::runtime_error {
 public:
  TesseraException(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) {
  throw TesseraException(code, message);
}

// "Expected <what> for <name> but received <value>", the one message shape.
inline std::string expected(const std::string& what, const std::string& name,
                            const std::string& received) {
  return "Expected " + what + " for " + name + " but received " + received;
}

}  // namespace tessera
