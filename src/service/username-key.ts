import { createHash, randomBytes } from 'node:crypto';

/**
 * The key usernames are hashed with: derived from --username-key (stable across restarts and replicas), or
 * random per process when none is given (main warns; Redis mode refuses to start without one).
 */
export function usernameKeyFrom(secret: string | undefined): Buffer {
  return secret ? createHash('sha256').update(secret).digest() : randomBytes(32);
}
