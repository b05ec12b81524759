// When to refresh a connection token. Pure functions: the client arms a timer with the result.

/** exp - iat of a JWT, in ms, when both claims can be read; the signature is the server's business, not ours. */
export function tokenLifetimeMs(token: string | null | undefined): number | null {
  if (!token) return null;
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4))) as { exp?: unknown; iat?: unknown };
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || claims.exp <= claims.iat) return null;
    return (claims.exp - claims.iat) * 1000;
  } catch {
    return null;
  }
}

/**
 * Milliseconds from now until the token should be refreshed. `expires` (Unix seconds) is on the issuer's clock: when
 * this device's clock disagrees so much that the token looks already expired or longer-lived than it is, the
 * token's own lifetime (exp - iat) is trusted instead, so a skewed clock cannot turn into a refresh every second.
 * Tokens that live less than twice `aheadMs` are refreshed half-way. Never less than a second.
 */
export function refreshDelayMs(expires: number, nowMs: number, token: string | null | undefined, aheadMs: number): number {
  let remaining = expires * 1000 - nowMs;
  const lifetime = tokenLifetimeMs(token);
  if (lifetime !== null && (remaining <= 0 || remaining > lifetime)) remaining = lifetime;
  const delay = remaining > 2 * aheadMs ? remaining - aheadMs : remaining / 2;
  return Math.max(1000, delay);
}
