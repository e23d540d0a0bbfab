import { Type, type Static } from 'typebox';

export const ReviewStatusSchema = Type.Union([Type.Literal('pending'), Type.Literal('allowed'), Type.Literal('refused'), Type.Literal('withdrawn'), Type.Literal('expired')], {
  description:
    'pending: waiting for an approver; allowed: an approver let the line run; refused: an approver refused it; withdrawn: its user gave it up (Ctrl-C), or the session ended first; expired: no approver decided in time',
});

/** What a command policy decided of a line, and for a held line its review. */
export const CommandReviewViewSchema = Type.Object({
  number: Type.Integer({ description: 'The number people quote: review #12' }),
  status: Type.Union([ReviewStatusSchema, Type.Null()], { description: 'The review of a held line; null for a decision that held nothing' }),
  decision: Type.Union([Type.Literal('deny'), Type.Literal('warn'), Type.Literal('review'), Type.Literal('allow')], {
    description: "What the policy said: review holds the line for an approver; allow is a line rebuilt from the keys typed (echo off), which ran",
  }),
  line: Type.Union([Type.String(), Type.Null()], { description: 'The whole command line; null where it is not shown (typed at a password prompt, or neither the screen nor the keys tell it)' }),
  reasons: Type.Array(Type.String(), { description: 'Why: the rules that matched, or why the line is uncertain' }),
  session: Type.Integer({ description: 'The number of the session the line was typed in' }),
  change: Type.String(),
  device: Type.String(),
  user: Type.String({ description: "The session's user, who typed the line" }),
  asked: Type.Array(Type.String(), { description: 'The approvers asked to review it (usernames); empty for a decision that held nothing' }),
  decidedBy: Type.Union([Type.String(), Type.Null()]),
  decidedAt: Type.Union([Type.String(), Type.Null()], { description: 'When the review ended: decided, withdrawn or expired' }),
  comment: Type.Union([Type.String(), Type.Null()], { description: "The approver's comment, which the user reads" }),
  time: Type.String(),
  offsetSeconds: Type.Number({ description: "When, in the session's recording" }),
  where: Type.Union([Type.Literal('shell'), Type.Literal('program'), Type.Literal('secret'), Type.Literal('screen')], {
    description: "Where the line was typed: at the shell's prompt, in a program, at a password prompt, in a full-screen program",
  }),
  fromKeystrokes: Type.Boolean({ description: 'The terminal echoed nothing: the line was rebuilt from the keys typed' }),
});

export type CommandReviewView = Static<typeof CommandReviewViewSchema>;
