/** The kinds Changegate itself notifies; other modules may add their own, any `a.b` lower-case name. */
export const NOTICE_KINDS = ['request.created', 'request.decided', 'request.expired'] as const;

export type KnownNoticeKind = (typeof NOTICE_KINDS)[number];

// `string & {}` keeps the known kinds offered by autocompletion while accepting any other.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type NoticeKind = KnownNoticeKind | (string & {});

/** Lower-case words separated by dots, dashes or underscores: `request.created`, `session.ended`. */
export const NOTICE_KIND_PATTERN = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;

/**
 * Something that happened and who should hear about it. Whatever is notified, the channels are the
 * same: an in-app notification per recipient, an e-mail per recipient with an address, and a
 * webhook call per subscribed webhook.
 */
export interface Notice {
  readonly kind: NoticeKind;
  /** User ids. Duplicates are ignored. */
  readonly recipients: readonly string[];
  /** One line: the e-mail subject and the in-app heading. */
  readonly title: string;
  /** Plain text. */
  readonly body: string;
  /** A path inside Changegate such as `/requests/123`; e-mails show it as a full URL. */
  readonly link?: string;
  /** Machine-readable details for webhooks and the UI. Never put a secret here. */
  readonly data: Readonly<Record<string, unknown>>;
}

export const TITLE_MAX = 200;
export const BODY_MAX = 20_000;

/**
 * What is wrong with a notice, or undefined. A notice comes from code, not from a user, so a
 * problem is a bug in the caller: `notify` throws a plain Error with this text.
 */
export function noticeProblem(notice: Notice): string | undefined {
  if (!NOTICE_KIND_PATTERN.test(notice.kind)) return `kind "${notice.kind}" is not a lower-case dotted name such as request.created`;
  if (notice.title.trim() === '' || notice.title.length > TITLE_MAX || /[\r\n]/.test(notice.title)) {
    return `the title must be one non-empty line of at most ${TITLE_MAX} characters`;
  }
  if (notice.body.length > BODY_MAX) return `the body is longer than ${BODY_MAX} characters`;
  if (notice.link !== undefined && !/^\/[^\s]*$/.test(notice.link)) return `link "${notice.link}" is not a path starting with "/"`;
  return undefined;
}

/** The absolute address of a link, for e-mails and webhooks; `publicUrl` has no trailing slash. */
export function absoluteLink(publicUrl: string, link: string | null | undefined): string | null {
  return link ? `${publicUrl.replace(/\/+$/, '')}${link}` : null;
}
