import type { CsatState, CustomEvent, Message, Session, TrackedElement, UserIdentity } from './models.js';
import type { WireMessage } from './wire.js';

/** Severity levels of a widget version warning. */
export interface VersionWarning {
  severity: 'info' | 'warning' | 'error';
  message: string;
  currentVersion: string;
  minVersion?: string;
  latestVersion?: string;
  /** Must be true for any warning that should not disconnect the widget. */
  canContinue: boolean;
  upgradeUrl?: string;
}

/**
 * Server → widget realtime events, a discriminated union on `type`. Each is sent as the
 * envelope `{ type, data }` over WebSocket and SSE (PROTOCOL.md §5.3).
 */
export type ServerEvent =
  | { type: 'message'; data: WireMessage }
  | { type: 'message_edited'; data: { messageId: string; content: string; editedAt?: string } }
  | { type: 'message_deleted'; data: { messageId: string; deletedAt?: string } }
  | { type: 'typing'; data: { isTyping: boolean; sender: string; sessionId?: string } }
  | { type: 'presence'; data: { online: boolean; operatorId?: string } }
  | { type: 'ai_takeover'; data: { sessionId?: string; reason?: 'timeout' | 'manual' | 'scheduled' } }
  | {
      type: 'read';
      data: {
        messageIds: string[];
        status: 'sent' | 'delivered' | 'read';
        deliveredAt?: string;
        readAt?: string;
        sessionId?: string;
      };
    }
  | { type: 'event'; data: CustomEvent }
  | { type: 'version_warning'; data: VersionWarning }
  | { type: 'config_update'; data: { trackedElements?: TrackedElement[] } }
  | {
      type: 'screenshot_request';
      data: { requestId: string; requestedBy?: string; requestedFrom?: string; silent?: boolean };
    }
  | { type: 'csat_request'; data: { requestedAt?: string } };

/** Every server event type name. */
export type ServerEventType = ServerEvent['type'];

/**
 * Things that happen in PocketPing, for application code, outgoing webhooks and logs.
 * A discriminated union on `type`; subscribe with `pocketping.on(type, handler)`.
 */
export type PocketPingEvent =
  | { type: 'session.started'; session: Session }
  | { type: 'session.closed'; session: Session }
  | { type: 'message.created'; message: Message; session: Session }
  | { type: 'message.edited'; message: Message; session: Session }
  | { type: 'message.deleted'; message: Message; session: Session }
  | { type: 'message.read'; session: Session; messageIds: string[]; status: 'delivered' | 'read' }
  | { type: 'identity.updated'; session: Session; identity: UserIdentity }
  | { type: 'prechat.submitted'; session: Session }
  | { type: 'csat.submitted'; session: Session; csat: CsatState }
  | { type: 'visitor.disconnected'; session: Session; durationSeconds?: number }
  | { type: 'custom_event'; session: Session; event: CustomEvent }
  | { type: 'operator.typing'; sessionId: string; isTyping: boolean }
  | {
      type: 'delivery.failed';
      bridge: string;
      sessionId: string;
      operation: string;
      error: unknown;
      deadLettered: boolean;
    };

/** Every PocketPing event type name. */
export type PocketPingEventType = PocketPingEvent['type'];

/** Picks the event of one type from the union. */
export type PocketPingEventOf<T extends PocketPingEventType> = Extract<PocketPingEvent, { type: T }>;
