// ticketgate's proof-of-work solver for the portal's pages: no build step, no CDN, no dependency.
// A 429 {"error": "challenge_required", "challenge", "difficulty"} from POST /v1/submissions is answered
// by sending the same request again with the header Ticketgate-Proof: <challenge>:<nonce>, where
// SHA-256("<challenge>:<nonce>") starts with <difficulty> zero bits (the nonce is hexadecimal).
// SHA-256 is written out here because crypto.subtle.digest is asynchronous: one promise per attempt
// makes a search of 65,000 attempts ten times slower than this loop.
(function (global) {
  "use strict";
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  var W = new Uint32Array(64);
  var H = new Uint32Array(8);

  // SHA-256 of ASCII text; the digest's words in H.
  function sha256(text) {
    var n = text.length, blocks = ((n + 8) >> 6) + 1, i, j, t;
    var words = new Uint32Array(blocks * 16);
    for (i = 0; i < n; i++) words[i >> 2] |= text.charCodeAt(i) << (24 - (i & 3) * 8);
    words[n >> 2] |= 0x80 << (24 - (n & 3) * 8);
    words[blocks * 16 - 1] = n * 8;
    H.set([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    for (j = 0; j < blocks; j++) {
      for (i = 0; i < 16; i++) W[i] = words[j * 16 + i];
      for (i = 16; i < 64; i++) {
        var a = W[i - 15], b = W[i - 2];
        var s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        var s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
      }
      var A = H[0], B = H[1], C = H[2], D = H[3], E = H[4], F = H[5], G = H[6], I = H[7];
      for (i = 0; i < 64; i++) {
        var S1 = ((E >>> 6) | (E << 26)) ^ ((E >>> 11) | (E << 21)) ^ ((E >>> 25) | (E << 7));
        var ch = (E & F) ^ (~E & G);
        t = (I + S1 + ch + K[i] + W[i]) | 0;
        var S0 = ((A >>> 2) | (A << 30)) ^ ((A >>> 13) | (A << 19)) ^ ((A >>> 22) | (A << 10));
        var maj = (A & B) ^ (A & C) ^ (B & C);
        var t2 = (S0 + maj) | 0;
        I = G; G = F; F = E; E = (D + t) | 0; D = C; C = B; B = A; A = (t + t2) | 0;
      }
      H[0] += A; H[1] += B; H[2] += C; H[3] += D; H[4] += E; H[5] += F; H[6] += G; H[7] += I;
    }
    return H;
  }

  function zeroBits(h) {
    var bits = 0;
    for (var i = 0; i < 8; i++) {
      if (h[i] === 0) { bits += 32; continue; }
      return bits + Math.clz32(h[i]);
    }
    return bits;
  }

  // The proof header's value for a challenge and its difficulty.
  function solve(challenge, difficulty) {
    for (var n = 0; ; n++) {
      var nonce = n.toString(16);
      if (zeroBits(sha256(challenge + ":" + nonce)) >= difficulty) return challenge + ":" + nonce;
    }
  }

  global.ticketgateProof = { solve: solve, sha256: sha256, zeroBits: zeroBits };
})(typeof window !== "undefined" ? window : globalThis);
