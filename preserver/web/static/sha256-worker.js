/* A Web Worker that hashes one file (a File or Blob) with SHA-256, off the page's thread.

   in:  {file: Blob, chunkSize: bytes}
   out: {type: "progress", done: bytes, total: bytes, ms: since start}   after each chunk
        {type: "done", sha256: hex, bytes: n, ms: n, via: "webcrypto" | "js"}
        {type: "error", message: text}

   A file of one chunk or less goes to WebCrypto (crypto.subtle.digest) whole. A larger
   one is read a chunk at a time (File.slice, then arrayBuffer) and fed to the
   incremental SHA-256 of sha256.js, reading the next chunk while hashing this one: at
   most two chunks are in memory, whatever the file's size. The file never leaves the
   machine; only its hash goes back to the page. */
"use strict";
importScripts("sha256.js");

self.onmessage = function (event) {
  hash(event.data.file, event.data.chunkSize).then(function (result) {
    self.postMessage(result);
  }, function (error) {
    self.postMessage({type: "error", message: String(error && error.message || error)});
  });
};

async function hash(file, chunkSize) {
  var started = performance.now(), total = file.size;
  var subtle = self.crypto && self.crypto.subtle;  // absent outside a secure context
  if (total <= chunkSize && subtle) {
    var digest = await subtle.digest("SHA-256", await file.arrayBuffer());
    return {type: "done", sha256: Sha256.toHex(digest), bytes: total,
            ms: performance.now() - started, via: "webcrypto"};
  }
  var hasher = new Sha256(), at = 0;
  var read = function (from) {
    return file.slice(from, Math.min(from + chunkSize, total)).arrayBuffer();
  };
  var pending = total > 0 ? read(0) : null;
  while (pending !== null) {
    var buffer = await pending;
    if (buffer.byteLength === 0) { throw new Error("the file got shorter while it was read"); }
    at += buffer.byteLength;
    pending = at < total ? read(at) : null;  // the next chunk is read while this one is hashed
    hasher.update(new Uint8Array(buffer));
    buffer = null;
    self.postMessage({type: "progress", done: at, total: total, ms: performance.now() - started});
  }
  return {type: "done", sha256: hasher.hex(), bytes: total, ms: performance.now() - started,
          via: "js"};
}
