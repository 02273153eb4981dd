import type { CoreV1Event } from '@kubernetes/client-node';
import { API_VERSION } from '../../api/schema.ts';
import { describeError, type KubeApi } from './client.ts';

export interface EventSubject {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly resourceVersion?: string;
}

export interface EventRecorderOptions {
  /** Who records: the pod name plus the elector identity. */
  readonly instance: string;
  readonly isLeader: () => boolean;
  readonly maxPerMinute?: number;
  readonly onError?: (message: string) => void;
}

const DEDUPE_MS = 10 * 60_000;

/**
 * Kubernetes Events (core/v1, which `kubectl describe` shows) about Portcullis objects. Only the leader records;
 * repeats of the same event within ten minutes and anything over the per-minute budget are dropped, because an
 * event storm costs the API server more than a missing event costs the user (status carries the same facts).
 */
export class EventRecorder {
  readonly #recent = new Map<string, number>();
  #windowStart = 0;
  #inWindow = 0;

  constructor(private readonly api: KubeApi, private readonly options: EventRecorderOptions) {}

  async record(subject: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string, nowMs = Date.now()): Promise<boolean> {
    if (!this.options.isLeader()) return false;
    const key = `${subject.uid}|${reason}|${message}`;
    const last = this.#recent.get(key);
    if (last !== undefined && nowMs - last < DEDUPE_MS) return false;
    if (nowMs - this.#windowStart >= 60_000) { this.#windowStart = nowMs; this.#inWindow = 0; }
    if (this.#inWindow >= (this.options.maxPerMinute ?? 60)) return false;
    this.#inWindow++;
    this.#recent.set(key, nowMs);
    if (this.#recent.size > 10_000) for (const [k, t] of this.#recent) if (nowMs - t >= DEDUPE_MS) this.#recent.delete(k);
    const now = new Date(nowMs);
    const event: CoreV1Event = {
      metadata: { generateName: `${subject.name}.`, namespace: subject.namespace },
      involvedObject: { apiVersion: API_VERSION, kind: subject.kind, name: subject.name, namespace: subject.namespace, uid: subject.uid, resourceVersion: subject.resourceVersion },
      type, reason, message: message.slice(0, 1024),
      firstTimestamp: now, lastTimestamp: now, count: 1,
      source: { component: 'portcullis' },
      reportingComponent: 'portcullis.dev/portcullis',
      reportingInstance: this.options.instance.slice(0, 128),
    };
    try {
      await this.api.createEvent(subject.namespace, event);
      return true;
    } catch (err) {
      this.#recent.delete(key);
      this.options.onError?.(`event ${reason} on ${subject.kind} ${subject.namespace}/${subject.name}: ${describeError(err)}`);
      return false;
    }
  }
}
