import type { Attachment, Message, Sender, MessageStatus } from './models.js';

/** Attachment as the widget reads it (PROTOCOL.md §2.3). */
export interface WireAttachment {
  id: string;
  filename: string;
  mimeType: string;
  size: number;
  url: string;
  thumbnailUrl?: string;
  status: Attachment['status'];
}

/** The object form of `replyTo` (PROTOCOL.md §2.2). */
export interface WireReplyTo {
  id: string;
  content: string;
  sender: Sender;
  deleted?: boolean;
  hasAttachment?: boolean;
  attachmentType?: string;
}

/** Message as the widget reads it (PROTOCOL.md §2.1). Absent fields are omitted, never null. */
export interface WireMessage {
  id: string;
  sessionId: string;
  content: string;
  sender: Sender;
  timestamp: string;
  status: MessageStatus;
  replyTo?: WireReplyTo | string;
  attachments?: WireAttachment[];
  deliveredAt?: string;
  readAt?: string;
  editedAt?: string;
  deletedAt?: string;
  operatorName?: string;
}

/** Converts a stored attachment into the widget's shape. */
export function toWireAttachment(a: Attachment): WireAttachment {
  const out: WireAttachment = {
    id: a.id,
    filename: a.filename,
    mimeType: a.mimeType || 'application/octet-stream',
    size: a.size,
    url: a.url,
    status: a.status,
  };
  if (a.thumbnailUrl) out.thumbnailUrl = a.thumbnailUrl;
  return out;
}

/** Builds the reply quote for a referenced message. */
export function toWireReplyTo(ref: Message): WireReplyTo {
  const first = ref.attachments?.[0];
  const out: WireReplyTo = {
    id: ref.id,
    content: ref.deletedAt ? '' : ref.content,
    sender: ref.sender,
  };
  if (ref.deletedAt) out.deleted = true;
  if (first && !ref.deletedAt) {
    out.hasAttachment = true;
    out.attachmentType = first.mimeType;
  }
  return out;
}

/**
 * Converts a stored message into the widget's shape. `resolveReply` finds the referenced
 * message so the quote renders even when the widget does not have it locally.
 */
export function toWireMessage(m: Message, replyRef?: Message | null): WireMessage {
  const out: WireMessage = {
    id: m.id,
    sessionId: m.sessionId,
    content: m.deletedAt ? '' : m.content,
    sender: m.sender,
    timestamp: m.timestamp.toISOString(),
    status: m.status,
  };
  if (m.replyTo) out.replyTo = replyRef ? toWireReplyTo(replyRef) : m.replyTo;
  if (m.attachments && m.attachments.length > 0 && !m.deletedAt) {
    out.attachments = m.attachments.map(toWireAttachment);
  }
  if (m.deliveredAt) out.deliveredAt = m.deliveredAt.toISOString();
  if (m.readAt) out.readAt = m.readAt.toISOString();
  if (m.editedAt) out.editedAt = m.editedAt.toISOString();
  if (m.deletedAt) out.deletedAt = m.deletedAt.toISOString();
  if (m.operatorName && m.sender !== 'visitor') out.operatorName = m.operatorName;
  return out;
}
