// Comparing a presented secret (a join token) with the expected one. A plain
// `===` returns as soon as a character differs, so its timing tells a
// patient attacker how long a matching prefix is; comparing fixed-size
// digests with timingSafeEqual takes the same time whatever matches, and
// hashing first also hides the expected token's length.
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Whether `presented` equals `expected`, in time independent of where they differ. Non-strings never match. */
export function sameSecret(presented: unknown, expected: string): boolean {
  if (typeof presented !== 'string') return false;
  return timingSafeEqual(digest(presented), digest(expected));
}
