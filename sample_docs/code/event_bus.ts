/**
 * A typed publish/subscribe event bus with wildcard listeners and once-handlers.
 */
import { EventEmitter } from "node:events";

export type Handler<T> = (payload: T) => void | Promise<void>;

export interface Subscription {
  readonly topic: string;
  unsubscribe(): void;
}

export enum DeliveryMode {
  Sync = "sync",
  Async = "async",
}

interface Entry<T> {
  handler: Handler<T>;
  once: boolean;
}

export namespace Topics {
  export const ALL = "*";

  export function matches(pattern: string, topic: string): boolean {
    if (pattern === ALL) return true;
    if (pattern.endsWith(".*")) return topic.startsWith(pattern.slice(0, -1));
    return pattern === topic;
  }
}

export class EventBus<Events extends Record<string, unknown>> {
  private readonly entries = new Map<string, Entry<any>[]>();
  private readonly emitter = new EventEmitter();

  constructor(private readonly mode: DeliveryMode = DeliveryMode.Sync) {}

  on<K extends keyof Events & string>(topic: K, handler: Handler<Events[K]>): Subscription {
    return this.add(topic, handler, false);
  }

  once<K extends keyof Events & string>(topic: K, handler: Handler<Events[K]>): Subscription {
    return this.add(topic, handler, true);
  }

  async publish<K extends keyof Events & string>(topic: K, payload: Events[K]): Promise<number> {
    let delivered = 0;
    for (const [pattern, list] of this.entries) {
      if (!Topics.matches(pattern, topic)) continue;
      for (const entry of [...list]) {
        if (entry.once) this.remove(pattern, entry);
        if (this.mode === DeliveryMode.Async) {
          await entry.handler(payload);
        } else {
          void entry.handler(payload);
        }
        delivered++;
      }
    }
    this.emitter.emit("delivered", topic, delivered);
    return delivered;
  }

  listenerCount(topic?: string): number {
    if (topic === undefined) {
      let n = 0;
      for (const list of this.entries.values()) n += list.length;
      return n;
    }
    return this.entries.get(topic)?.length ?? 0;
  }

  private add<T>(topic: string, handler: Handler<T>, once: boolean): Subscription {
    const entry: Entry<T> = { handler, once };
    const list = this.entries.get(topic) ?? [];
    list.push(entry);
    this.entries.set(topic, list);
    return { topic, unsubscribe: () => this.remove(topic, entry) };
  }

  private remove<T>(topic: string, entry: Entry<T>): void {
    const list = this.entries.get(topic);
    if (!list) return;
    const i = list.indexOf(entry);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.entries.delete(topic);
  }
}

export const createBus = <E extends Record<string, unknown>>(mode?: DeliveryMode) =>
  new EventBus<E>(mode);
