/* SHA-256 (FIPS 180-4), incremental, in plain JavaScript: no library, no build step.

   WebCrypto's crypto.subtle.digest takes the whole message at once; this one is fed in
   pieces, so a file of any size is hashed a chunk at a time in bounded memory.

     var h = new Sha256();
     h.update(uint8array);            // as many times as needed, pieces of any length
     h.hex();                         // "ba7816bf..." (then the object is spent)

   Loaded by the hashing worker (sha256-worker.js) with importScripts, and by tests with a
   <script> tag; it defines one global, Sha256. */
(function (root) {
  "use strict";

  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
            0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

  /* Compress every whole 64-byte block of p[pos, pos + len) into the state h; returns
     how many bytes were consumed (a multiple of 64). w is the 64-word schedule. */
  function blocks(h, w, p, pos, len) {
    var start = pos, end = pos + len - 63;
    var h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3], h4 = h[4], h5 = h[5], h6 = h[6], h7 = h[7];
    var a, b, c, d, e, f, g, hh, i, t1, t2, x, y;
    while (pos < end) {
      for (i = 0; i < 16; i++, pos += 4) {
        w[i] = (p[pos] << 24) | (p[pos + 1] << 16) | (p[pos + 2] << 8) | p[pos + 3];
      }
      for (i = 16; i < 64; i++) {
        x = w[i - 15];
        y = w[i - 2];
        w[i] = (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
               (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) +
               w[i - 7] + w[i - 16] | 0;
      }
      a = h0; b = h1; c = h2; d = h3; e = h4; f = h5; g = h6; hh = h7;
      for (i = 0; i < 64; i++) {
        t1 = hh + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
             ((e & f) ^ (~e & g)) + K[i] + w[i] | 0;
        t2 = (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
             ((a & b) ^ (a & c) ^ (b & c)) | 0;
        hh = g; g = f; f = e; e = d + t1 | 0;
        d = c; c = b; b = a; a = t1 + t2 | 0;
      }
      h0 = h0 + a | 0; h1 = h1 + b | 0; h2 = h2 + c | 0; h3 = h3 + d | 0;
      h4 = h4 + e | 0; h5 = h5 + f | 0; h6 = h6 + g | 0; h7 = h7 + hh | 0;
    }
    h[0] = h0; h[1] = h1; h[2] = h2; h[3] = h3; h[4] = h4; h[5] = h5; h[6] = h6; h[7] = h7;
    return pos - start;
  }

  function Sha256() {
    this.h = new Int32Array(IV);
    this.w = new Int32Array(64);
    this.tail = new Uint8Array(64);  // bytes of an unfinished block
    this.tailLength = 0;
    this.length = 0;                 // bytes hashed so far (exact up to 2^53)
    this.done = false;
  }

  /* Add the bytes of a Uint8Array (or an ArrayBuffer) to the message. */
  Sha256.prototype.update = function (data) {
    if (this.done) { throw new Error("sha256: update after digest"); }
    var p = data instanceof Uint8Array ? data : new Uint8Array(data);
    var pos = 0, len = p.length;
    this.length += len;
    if (this.tailLength > 0) {
      var take = Math.min(64 - this.tailLength, len);
      this.tail.set(p.subarray(0, take), this.tailLength);
      this.tailLength += take;
      pos = take;
      len -= take;
      if (this.tailLength < 64) { return this; }
      blocks(this.h, this.w, this.tail, 0, 64);
      this.tailLength = 0;
    }
    // 4 KiB a call: V8 optimises a function called often sooner than one long loop
    // (one call over a whole chunk ran unoptimised for the first ~50 MB)
    var used = 0;
    while (len - used >= 64) {
      used += blocks(this.h, this.w, p, pos + used, Math.min(len - used, 4096));
    }
    if (used < len) {
      this.tail.set(p.subarray(pos + used, pos + len), 0);
      this.tailLength = len - used;
    }
    return this;
  };

  /* The 32-byte digest: pads the message (a 1 bit, zeros, its length in bits as 64 bits). */
  Sha256.prototype.digest = function () {
    if (this.done) { throw new Error("sha256: digest twice"); }
    this.done = true;
    var pad = new Uint8Array(this.tailLength < 56 ? 64 : 128);
    pad.set(this.tail.subarray(0, this.tailLength), 0);
    pad[this.tailLength] = 0x80;
    var hi = Math.floor(this.length / 0x20000000), lo = (this.length % 0x20000000) * 8;
    var n = pad.length;
    pad[n - 8] = hi >>> 24; pad[n - 7] = hi >>> 16; pad[n - 6] = hi >>> 8; pad[n - 5] = hi;
    pad[n - 4] = lo >>> 24; pad[n - 3] = lo >>> 16; pad[n - 2] = lo >>> 8; pad[n - 1] = lo;
    blocks(this.h, this.w, pad, 0, n);
    var out = new Uint8Array(32);
    for (var i = 0; i < 8; i++) {
      var v = this.h[i];
      out[4 * i] = v >>> 24; out[4 * i + 1] = v >>> 16; out[4 * i + 2] = v >>> 8; out[4 * i + 3] = v;
    }
    return out;
  };

  /* The digest as 64 lower-case hex digits. */
  Sha256.prototype.hex = function () {
    return Sha256.toHex(this.digest());
  };

  Sha256.toHex = function (bytes) {
    var b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), s = "";
    for (var i = 0; i < b.length; i++) { s += (b[i] < 16 ? "0" : "") + b[i].toString(16); }
    return s;
  };

  root.Sha256 = Sha256;
})(typeof self !== "undefined" ? self : this);
