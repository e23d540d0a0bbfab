import { createTransport } from 'nodemailer';
import { DeliveryError } from './delivery-error.ts';

export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** What the dispatcher needs to send e-mail: the smallest interface, so a test may hand it another. */
export interface Mailer {
  /** Resolves with the SMTP reply code of the accepted message; throws a DeliveryError when refused. */
  send(message: MailMessage): Promise<number | null>;
  close(): void;
}

export interface SmtpMailerOptions {
  /** `smtp://[user:password@]host[:port]` or `smtps://…` (see CHANGEGATE_SMTP_URL). */
  readonly url: string;
  readonly from: string;
  /** Limit for connecting, the greeting and each wait on the socket. */
  readonly timeoutMs: number;
}

/** Sends e-mail through an SMTP server with nodemailer: one connection per message, each step timed out. */
export class SmtpMailer implements Mailer {
  private readonly transport;

  constructor(options: SmtpMailerOptions) {
    this.transport = createTransport(
      {
        url: options.url,
        connectionTimeout: options.timeoutMs,
        greetingTimeout: options.timeoutMs,
        socketTimeout: options.timeoutMs,
        dnsTimeout: options.timeoutMs,
      },
      { from: options.from },
    );
  }

  async send(message: MailMessage): Promise<number | null> {
    try {
      const info = await this.transport.sendMail({ to: message.to, subject: message.subject, text: message.text, headers: { ...message.headers } });
      return replyCode(info.response);
    } catch (error) {
      const code = (error as { responseCode?: unknown }).responseCode;
      if (typeof code === 'number') {
        // A 5xx reply is the server's final word (no such mailbox, refused sender): retrying will not help.
        throw new DeliveryError(`SMTP ${(error as Error).message}`, code, code >= 500 && code < 600);
      }
      throw error;
    }
  }

  close(): void {
    this.transport.close();
  }
}

function replyCode(response: unknown): number | null {
  const match = typeof response === 'string' ? /^(\d{3})\b/.exec(response) : null;
  return match?.[1] ? Number(match[1]) : null;
}
