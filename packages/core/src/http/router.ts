/** A tiny path router for the protocol's fixed set of routes (`/message/:messageId`). */
export interface RouteMatch<T> {
  value: T;
  params: Record<string, string>;
}

interface Entry<T> {
  method: string;
  segments: string[];
  value: T;
}

/** Matches method + path against registered patterns; static segments win over params. */
export class Router<T> {
  private readonly entries: Entry<T>[] = [];
  /** Routes without params by method, then path as registered: the hot widget calls need no scan. */
  private readonly exact = new Map<string, Map<string, T>>();

  add(method: string, pattern: string, value: T): void {
    const segments = split(pattern);
    // A route without params beats every route with some, so an exact hit needs no scan.
    if (!segments.some((s) => s.startsWith(':'))) {
      let paths = this.exact.get(method);
      if (!paths) this.exact.set(method, (paths = new Map()));
      const path = `/${segments.join('/')}`;
      if (!paths.has(path)) paths.set(path, value);
    }
    this.entries.push({ method, segments, value });
    // More static segments first, so `/upload/complete` beats `/upload/:attachmentId`.
    this.entries.sort((a, b) => staticCount(b.segments) - staticCount(a.segments));
  }

  match(method: string, path: string): RouteMatch<T> | undefined {
    const hit = this.exact.get(method)?.get(path);
    if (hit !== undefined) return { value: hit, params: {} };
    const parts = split(path);
    for (const e of this.entries) {
      if (e.method !== method || e.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const seg = e.segments[i]!;
        const part = parts[i]!;
        if (seg.startsWith(':')) {
          try {
            params[seg.slice(1)] = decodeURIComponent(part);
          } catch {
            ok = false;
            break;
          }
        } else if (seg !== part) {
          ok = false;
          break;
        }
      }
      if (ok) return { value: e.value, params };
    }
    return undefined;
  }

  /** True when some route exists for the path with another method (for 405-like answers). */
  hasPath(path: string): boolean {
    const parts = split(path);
    return this.entries.some(
      (e) => e.segments.length === parts.length && e.segments.every((s, i) => s.startsWith(':') || s === parts[i]),
    );
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function staticCount(segments: string[]): number {
  return segments.filter((s) => !s.startsWith(':')).length;
}
