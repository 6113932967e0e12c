// Memory in and out of tensors: allocation, upload from JS, reads back to JS
// (as a promise or synchronously) and copies within and across devices.
#include <cstring>
#include <future>

#include "args.h"
#include "bindings.h"
#include "runtime.h"

namespace tessera::napi {

namespace {

// Bytes read on a stream thread, on their way back to the JS thread.
struct ReadResult {
  std::unique_ptr<uint8_t[]> bytes;  // uninitialized: copyToHost writes every byte
  size_t size = 0;
  std::shared_ptr<const TesseraException> error;
};

// Queues a task that copies [offset, offset + n) of the storage to the host.
void enqueueRead(Runtime& rt, const StoragePtr& storage, size_t offset, size_t n,
                 std::function<void(std::unique_ptr<ReadResult>)> done) {
  DeviceContext& ctx = rt.device(storage->device());
  Backend* backend = ctx.backend.get();
  storage->markQueued();
  ctx.stream->enqueue([backend, storage, offset, n, done = std::move(done)]() {
    auto result = std::make_unique<ReadResult>();
    if ((result->error = storage->error()) == nullptr) {
      try {
        result->bytes.reset(new uint8_t[n == 0 ? 1 : n]);
        result->size = n;
        backend->copyToHost(result->bytes.get(), static_cast<const char*>(storage->data()) + offset, n);
      } catch (const TesseraException& e) {
        result->error = std::make_shared<TesseraException>(e);
      } catch (const std::bad_alloc&) {
        result->error = std::make_shared<TesseraException>(
            ErrorCode::kOutOfMemory, "Expected host memory for a read-back buffer but received an allocation failure");
      }
    }
    done(std::move(result));
  });
}

// Hands the staged bytes to JS without another copy: the ArrayBuffer owns them.
Napi::Value toArrayBuffer(Napi::Env env, ReadResult& r) {
  if (r.size == 0) return Napi::ArrayBuffer::New(env, 0);
  const size_t size = r.size;
  return Napi::ArrayBuffer::New(env, r.bytes.release(), size,
                                [](Napi::Env, void* data) { delete[] static_cast<uint8_t*>(data); });
}

struct ByteRange {
  StoragePtr storage;
  size_t offset = 0, bytes = 0;
};

// (handle, byteOffset, nbytes) arguments, checked to lie inside the storage.
ByteRange byteRangeArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ByteRange r;
  r.storage = StorageHandle::unwrap(env, info[0], "tensor");
  const int64_t offset = intArg(env, info[1], "byteOffset");
  const int64_t n = intArg(env, info[2], "nbytes");
  if (offset < 0 || n < 0 || static_cast<uint64_t>(offset + n) > r.storage->bytes()) {
    throwJs(env, ErrorCode::kInternal, "tessera internal error: byte range outside the storage");
  }
  r.offset = static_cast<size_t>(offset);
  r.bytes = static_cast<size_t>(n);
  return r;
}

}  // namespace

// alloc(deviceKind, deviceIndex, bytes) -> handle
Napi::Value alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const Device d = deviceArg(env, info[0], info[1]);
    const int64_t bytes = intArg(env, info[2], "bytes");
    if (bytes < 0) throwJs(env, ErrorCode::kInternal, "tessera internal error: negative size");
    return StorageHandle::wrap(env, Runtime::get(env).allocate(env, d, static_cast<size_t>(bytes)));
  });
}

// upload(handle, byteOffset, source: ArrayBufferView) — the bytes are copied
// before this returns, so the caller may reuse its array at once.
Napi::Value upload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    StoragePtr storage = StorageHandle::unwrap(env, info[0], "tensor");
    const int64_t offset = intArg(env, info[1], "byteOffset");
    if (!info[2].IsTypedArray()) throwJs(env, ErrorCode::kInternal, "tessera internal error: upload source");
    Napi::TypedArray src = info[2].As<Napi::TypedArray>();
    const size_t n = src.ByteLength();
    if (offset < 0 || static_cast<uint64_t>(offset) + n > storage->bytes()) {
      throwJs(env, ErrorCode::kInternal, "tessera internal error: upload outside the storage");
    }
    const uint8_t* source = static_cast<uint8_t*>(src.ArrayBuffer().Data()) + src.ByteOffset();
    // A fresh CPU storage (tensor creation) is filled in place: one copy, no task.
    if (storage->device().kind == DeviceKind::kCpu && !storage->queued()) {
      if (n > 0) std::memcpy(static_cast<char*>(storage->data()) + offset, source, n);
      return env.Undefined();
    }
    auto staging = std::make_shared<std::vector<uint8_t>>(source, source + n);
    Runtime::get(env).submit(storage->device(), {}, {storage}, [storage, offset, staging](Backend& b) {
      b.copyFromHost(static_cast<char*>(storage->data()) + offset, staging->data(), staging->size());
    });
    return env.Undefined();
  });
}

// read(handle, byteOffset, nbytes) -> Promise<ArrayBuffer>, resolved off the
// stream through a thread-safe function: the JS thread never waits.
Napi::Value read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const ByteRange range = byteRangeArgs(info);
    auto deferred = std::make_shared<Napi::Promise::Deferred>(env);
    auto tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                              "tessera.read", 0, 1);
    Napi::Promise promise = deferred->Promise();
    enqueueRead(Runtime::get(env), range.storage, range.offset, range.bytes,
                [tsfn, deferred](std::unique_ptr<ReadResult> result) mutable {
                  ReadResult* raw = result.release();
                  const napi_status status = tsfn.NonBlockingCall(
                      raw, [deferred](Napi::Env env, Napi::Function, ReadResult* r) {
                        std::unique_ptr<ReadResult> owned(r);
                        if (env == nullptr) return;  // environment shutting down
                        if (owned->error) {
                          deferred->Reject(makeJsError(env, owned->error->code(), owned->error->what()));
                        } else {
                          deferred->Resolve(toArrayBuffer(env, *owned));
                        }
                      });
                  if (status != napi_ok) delete raw;  // env is closing; nobody is waiting
                  tsfn.Release();
                });
    return promise;
  });
}

// readSync(handle, byteOffset, nbytes) -> ArrayBuffer. Blocks the JS thread
// until the stream gets there: for scripts, not for servers.
Napi::Value readSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const ByteRange range = byteRangeArgs(info);
    std::promise<std::unique_ptr<ReadResult>> promise;
    auto future = promise.get_future();
    enqueueRead(Runtime::get(env), range.storage, range.offset, range.bytes,
                [&promise](std::unique_ptr<ReadResult> r) { promise.set_value(std::move(r)); });
    std::unique_ptr<ReadResult> result = future.get();
    if (result->error) throw TesseraException(*result->error);
    return toArrayBuffer(env, *result);
  });
}

// copy(src view, dst view): strided gather + dtype conversion on one device,
// or a contiguous same-dtype transfer between two devices.
Napi::Value copy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ViewArg src = unpackView(env, info[0], "src");
    ViewArg dst = unpackView(env, info[1], "dst");
    // The kernels write numel elements from the destination's first one
    // (CopyParams): a strided destination would write outside its view.
    bool sameShape = src.view.ndim == dst.view.ndim;
    for (int d = 0; sameShape && d < dst.view.ndim; ++d) sameShape = src.view.shape[d] == dst.view.shape[d];
    if (!dst.view.isContiguous() || !sameShape) {
      throwJs(env, ErrorCode::kInternal, "tessera internal error: copy into a strided or differently shaped view");
    }
    Runtime& rt = Runtime::get(env);
    const Device from = src.storage->device(), to = dst.storage->device();
    if (from == to) {
      CopyParams p{src.view, dst.view};
      rt.submit(to, {src.storage}, {dst.storage}, [p](Backend& b) { b.copy(p); });
      return env.Undefined();
    }
    if (!src.view.isContiguous() || src.view.dtype != dst.view.dtype) {
      throwJs(env, ErrorCode::kInternal, "tessera internal error: cross-device copy of a strided view");
    }
    // The destination stream waits for the source stream to stage the bytes;
    // it was queued at this call, so it stays ordered before later ops.
    const size_t n = static_cast<size_t>(dst.view.numel()) * dtypeSize(dst.view.dtype);
    auto staged = std::make_shared<std::promise<std::shared_ptr<ReadResult>>>();
    std::shared_future<std::shared_ptr<ReadResult>> ready = staged->get_future().share();
    const size_t srcOffset = static_cast<const char*>(src.view.data) - static_cast<const char*>(src.storage->data());
    enqueueRead(rt, src.storage, srcOffset, n, [staged](std::unique_ptr<ReadResult> r) {
      staged->set_value(std::shared_ptr<ReadResult>(std::move(r)));
    });
    void* dstData = dst.view.data;
    rt.submit(to, {}, {dst.storage}, [ready, dstData, n](Backend& b) {
      std::shared_ptr<ReadResult> r = ready.get();
      if (r->error) throw TesseraException(*r->error);
      b.copyFromHost(dstData, r->bytes.get(), n);
    });
    return env.Undefined();
  });
}

}  // namespace tessera::napi
