/* A Web Worker that hashes one file (a File or Blob) with SHA-256, off the page's thread.

   in:  {file: Blob, chunkSize: bytes}
   out: {type: "progress", done: bytes, total: bytes, ms: since start}   after each chunk
        {type: "done", sha256: hex, bytes: n, ms: n, via: "webcrypto" | "js",
         read: "stream" | "slices" (for "js": how the file was read)}
        {type: "error", message: text}

   A file of one chunk or less goes to WebCrypto (crypto.subtle.digest) whole. A larger
   one is read into one chunk-sized buffer, again and again (Blob.stream() with a BYOB
   reader; where that is missing, File.slice and arrayBuffer a chunk at a time), and fed
   to the incremental SHA-256 of sha256.js: one chunk is in memory, whatever the file's
   size. The file never leaves the machine; only its hash goes back to the page.

   in (tests only): {..., slices: true} takes the File.slice way even where the stream
   one exists. */
"use strict";
importScripts("sha256.js");

self.onmessage = function (event) {
  hash(event.data.file, event.data.chunkSize, event.data.slices === true).then(function (result) {
    self.postMessage(result);
  }, function (error) {
    self.postMessage({type: "error", message: String(error && error.message || error)});
  });
};

async function hash(file, chunkSize, slices) {
  var started = performance.now(), total = file.size;
  var subtle = self.crypto && self.crypto.subtle;  // absent outside a secure context
  if (total <= chunkSize && subtle) {
    var digest = await subtle.digest("SHA-256", await file.arrayBuffer());
    return {type: "done", sha256: Sha256.toHex(digest), bytes: total,
            ms: performance.now() - started, via: "webcrypto"};
  }
  var hasher = new Sha256();
  var progress = function (done) {
    self.postMessage({type: "progress", done: done, total: total,
                      ms: performance.now() - started});
  };
  var reader = slices ? null : byobReader(file);
  var read = reader ? await viaStream(reader, hasher, chunkSize, progress)
                    : await viaSlices(file, hasher, chunkSize, progress);
  if (read !== total || (reader && !(await unchanged(file)))) {
    throw new Error("the file changed while it was read");
  }
  return {type: "done", sha256: hasher.hex(), bytes: total, ms: performance.now() - started,
          via: "js", read: reader ? "stream" : "slices"};
}

/* Whether the file is still the one chosen. A byte stream notices a change only before it
   starts (Chromium): a file rewritten while it is read gave a hash of no version of it.
   Reading a slice checks the file's modification time against the one of its choice. */
async function unchanged(file) {
  try {
    await file.slice(0, 1).arrayBuffer();
    return true;
  } catch (error) {
    return false;
  }
}

/* A reader that fills a buffer of ours (a byte stream's "BYOB" reader), or null where
   Blob.stream() is not a byte stream. */
function byobReader(file) {
  try {
    return file.stream().getReader({mode: "byob"});
  } catch (error) {
    return null;
  }
}

/* The file read into one chunk-sized buffer, over and over: the memory stays one chunk
   (a new ArrayBuffer per chunk, as below, is garbage the worker's GC collects late:
   Chromium's renderer grew by ~280 MB over a 1 GiB file that way, by ~25 MB this way). */
async function viaStream(reader, hasher, chunkSize, progress) {
  var buffer = new ArrayBuffer(chunkSize), read = 0, finished = false;
  while (!finished) {
    var filled = 0;
    while (filled < chunkSize) {
      var got = await reader.read(new Uint8Array(buffer, filled, chunkSize - filled));
      if (!got.value) { throw new Error("the file could not be read to its end"); }
      buffer = got.value.buffer;  // handed back to us, with what it held
      if (got.done) { finished = true; break; }
      filled += got.value.byteLength;
    }
    if (filled > 0) {
      hasher.update(new Uint8Array(buffer, 0, filled));
      read += filled;
      progress(read);
    }
  }
  return read;
}

/* Where there is no byte stream: File.slice and arrayBuffer, the next chunk read while
   this one is hashed. */
async function viaSlices(file, hasher, chunkSize, progress) {
  var total = file.size, at = 0;
  var slice = function (from) {
    return file.slice(from, Math.min(from + chunkSize, total)).arrayBuffer();
  };
  var pending = total > 0 ? slice(0) : null;
  while (pending !== null) {
    var buffer = await pending;
    if (buffer.byteLength === 0) { break; }
    at += buffer.byteLength;
    pending = at < total ? slice(at) : null;
    hasher.update(new Uint8Array(buffer));
    buffer = null;
    progress(at);
  }
  return at;
}
