import { z } from 'zod';

/** Who wrote a message. */
export const SenderSchema = z.enum(['visitor', 'operator', 'ai']);
/** Who wrote a message. */
export type Sender = z.infer<typeof SenderSchema>;

/** Delivery state of a message, as the widget shows it with ticks. */
export const MessageStatusSchema = z.enum(['sent', 'delivered', 'read']);
/** Delivery state of a message. */
export type MessageStatus = z.infer<typeof MessageStatusSchema>;

/** Lifecycle of an uploaded file. */
export const AttachmentStatusSchema = z.enum(['pending', 'uploading', 'ready', 'failed']);
/** Lifecycle of an uploaded file. */
export type AttachmentStatus = z.infer<typeof AttachmentStatusSchema>;

/** A file attached to a message (widget upload, operator file from a bridge, screenshot). */
export const AttachmentSchema = z.object({
  /** Unguessable, URL-safe id. */
  id: z.string(),
  /** Session the file belongs to; a file is only ever linked to messages of this session. */
  sessionId: z.string(),
  /** Message it was linked to, once sent. */
  messageId: z.string().optional(),
  filename: z.string(),
  mimeType: z.string(),
  /** Size in bytes. */
  size: z.number().int().nonnegative(),
  /** Absolute URL the browser can fetch. Empty while pending. */
  url: z.string(),
  thumbnailUrl: z.string().optional(),
  status: AttachmentStatusSchema,
  /** Where the bytes live in the attachment store. */
  storageKey: z.string(),
  /** `visitor`, `operator`, or the bridge that brought the file. */
  uploadedFrom: z.string().optional(),
  /** The platform's own file id, when it came from a bridge. */
  bridgeFileId: z.string().optional(),
  createdAt: z.date(),
  /** Upload deadline for pending uploads. */
  expiresAt: z.date().optional(),
});
/** A file attached to a message. */
export type Attachment = z.infer<typeof AttachmentSchema>;

/** The host application's user, attached to a session by `identify()`. Extra fields are kept. */
export const UserIdentitySchema = z.looseObject({
  id: z.string().min(1, 'identity.id must be a non-empty string'),
  email: z.string().optional(),
  name: z.string().optional(),
});
/** The host application's user. Extra fields are kept as they are. */
export type UserIdentity = z.infer<typeof UserIdentitySchema>;

/** What the widget tells about the page and browser, plus what the server adds. */
export const SessionMetadataSchema = z.looseObject({
  url: z.string().optional(),
  referrer: z.string().optional(),
  pageTitle: z.string().optional(),
  userAgent: z.string().optional(),
  timezone: z.string().optional(),
  language: z.string().optional(),
  screenResolution: z.string().optional(),
  botSignals: z.record(z.string(), z.unknown()).optional(),
  ip: z.string().optional(),
  country: z.string().optional(),
  city: z.string().optional(),
  deviceType: z.string().optional(),
  browser: z.string().optional(),
  os: z.string().optional(),
});
/** Page, browser and network facts about a visitor. */
export type SessionMetadata = z.infer<typeof SessionMetadataSchema>;

/** Pre-chat form answers. */
export const PreChatDataSchema = z.object({
  email: z.string().optional(),
  phone: z.string().optional(),
  phoneCountry: z.string().optional(),
  submittedAt: z.date(),
});
/** Pre-chat form answers. */
export type PreChatData = z.infer<typeof PreChatDataSchema>;

/** Satisfaction survey state of a session. */
export const CsatStateSchema = z.object({
  pending: z.boolean(),
  requestedAt: z.date().optional(),
  score: z.number().int().min(1).max(5).optional(),
  comment: z.string().optional(),
  respondedAt: z.date().optional(),
});
/** Satisfaction survey state of a session. */
export type CsatState = z.infer<typeof CsatStateSchema>;

/** A screenshot the operator asked the visitor's widget to take. */
export const ScreenshotRequestSchema = z.object({
  requestId: z.string(),
  requestedBy: z.string().optional(),
  requestedFrom: z.string().optional(),
  silent: z.boolean().optional(),
  requestedAt: z.date(),
  /** Set once handed to the widget; each request is handed out once. */
  deliveredAt: z.date().optional(),
  completedAt: z.date().optional(),
});
/** A screenshot the operator asked for. */
export type ScreenshotRequest = z.infer<typeof ScreenshotRequestSchema>;

/** A conversation between one visitor and the operators. */
export const SessionSchema = z.object({
  /** Unguessable, URL-safe id; the widget's only credential. */
  id: z.string(),
  /** The browser's stable visitor id (widget-generated, not validated strictly). */
  visitorId: z.string(),
  createdAt: z.date(),
  /** Last thing that happened in the session (message, connect, visible tab). */
  lastActivity: z.date(),
  status: z.enum(['open', 'closed']),
  closedAt: z.date().optional(),
  metadata: SessionMetadataSchema,
  identity: UserIdentitySchema.optional(),
  /** True once the visitor sent a real message (bridges open a thread only then). */
  hasVisitorMessage: z.boolean().optional(),
  /** True while the AI answers in place of an operator. */
  aiActive: z.boolean().optional(),
  /** When an operator last acted in this session. */
  lastOperatorActivity: z.date().optional(),
  preChat: PreChatDataSchema.optional(),
  csat: CsatStateSchema.optional(),
  screenshotRequests: z.array(ScreenshotRequestSchema).optional(),
  /** Thread/topic id per bridge name (Telegram topic, Slack thread_ts, Discord thread). */
  bridgeThreads: z.record(z.string(), z.string()).optional(),
  /**
   * The session's latest message sequence number: the highest `seq` any of its messages has
   * had. Maintained by storages that assign `Message.seq`; ignored in patches (read-only).
   */
  seq: z.number().int().nonnegative().optional(),
  /**
   * Where recently closed WebSockets of this session stopped: the sequence number each had
   * confirmed (by a pong after the frame) and when it closed, newest last, a few at most. A
   * widget's WebSocket carries no cursor, so a reopened socket resumes from the lowest one.
   */
  streamResume: z.array(z.object({ seq: z.number().int().nonnegative(), at: z.date() })).optional(),
});
/** A conversation between one visitor and the operators. */
export type Session = z.infer<typeof SessionSchema>;

/** A chat message, as stored. */
export const MessageSchema = z.object({
  /** Unguessable, URL-safe id. */
  id: z.string(),
  sessionId: z.string(),
  /** Text, never trimmed for visitor messages; may be empty when attachments are sent. */
  content: z.string(),
  sender: SenderSchema,
  /** Creation time. */
  timestamp: z.date(),
  /** Latest change of any kind (creation, edit, delete, receipt). Drives the `after` delta. */
  updatedAt: z.date(),
  /**
   * Change sequence number within the session, assigned by the storage (not by callers) on
   * every `saveMessage` and `updateMessage`: greater than every `seq` the session's messages had
   * before, so "everything after seq N" is a gap-free resume point. Undefined with storages
   * that do not assign it; resume then falls back to `updatedAt`.
   */
  seq: z.number().int().nonnegative().optional(),
  status: MessageStatusSchema,
  deliveredAt: z.date().optional(),
  readAt: z.date().optional(),
  editedAt: z.date().optional(),
  deletedAt: z.date().optional(),
  /** Id of the message this one replies to (same session). */
  replyTo: z.string().optional(),
  attachments: z.array(AttachmentSchema).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  /** Display name of the operator who wrote it. */
  operatorName: z.string().optional(),
  /** Where it came from: `widget`, `api`, or a bridge name. */
  source: z.string().optional(),
  /** The platform message id per bridge name, for edit/delete/reply sync. */
  bridgeMessageIds: z.record(z.string(), z.string()).optional(),
});
/** A chat message, as stored. */
export type Message = z.infer<typeof MessageSchema>;

/** A named event with data, in either direction between widget and server. */
export const CustomEventSchema = z.object({
  name: z.string().min(1).max(200),
  data: z.record(z.string(), z.unknown()).optional(),
  timestamp: z.string().optional(),
  sessionId: z.string().optional(),
});
/** A named event with data. */
export type CustomEvent = z.infer<typeof CustomEventSchema>;

/** CSS-selector tracker installed in the widget (`trackedElements`). */
export const TrackedElementSchema = z.object({
  selector: z.string().min(1),
  event: z.enum(['click', 'submit', 'focus', 'change', 'mouseenter']).optional(),
  name: z.string().min(1),
  widgetMessage: z.string().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});
/** CSS-selector tracker installed in the widget. */
export type TrackedElement = z.infer<typeof TrackedElementSchema>;

/** Pre-chat form settings sent to the widget on connect. */
export const PreChatFormOptionsSchema = z.object({
  enabled: z.boolean().default(false),
  required: z.boolean().default(false),
  timing: z.enum(['before-first-message', 'after-first-message']).default('before-first-message'),
  fields: z.enum(['email-only', 'phone-only', 'email-or-phone', 'email-and-phone']).default('email-only'),
});
/** Pre-chat form settings. */
export type PreChatFormOptions = z.infer<typeof PreChatFormOptionsSchema>;

/** Operator presence details. */
export interface OperatorInfo {
  id: string;
  name: string;
  avatar?: string;
}
