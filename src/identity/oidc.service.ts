import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import * as client from 'openid-client';
import { appendEvent } from '../eventlog/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { errors, isAppError } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import type { SecretBox } from '../platform/secret-box.ts';
import { sourceOf } from '../platform/source-address.ts';
import { SYSTEM_ACTOR_NAME } from '../access/actor.ts';
import { deleteGrant, grantsOfUser, insertGrant } from '../access/grant.store.ts';
import { findPartitionByName, partitionNamesByIds } from '../objects/partition.store.ts';
import { newSecret, secretHash } from './bearer-secret.ts';
import type { AuthService, WebSession } from './auth.service.ts';
import { groupsOf, providerMfa, refusalOf, usernameOf, wantedGrants, type OidcSettings } from './oidc.ts';
import {
  countPendingOidcFlows,
  deleteExpiredOidcFlows,
  findOidcFlow,
  findOidcIdentity,
  findOidcIdentityOfUser,
  insertOidcFlow,
  insertOidcIdentity,
  takeOidcFlow,
  touchOidcIdentity,
  type OidcFlowRow,
} from './oidc.store.ts';
import { findUserByName, insertUser, newUserRow, type User } from './user.store.ts';

/** How long a sign-in may stay at the provider, and how long a TOTP user then has to give their code. */
export const OIDC_PROVIDER_STEP_SECONDS = 10 * 60;
export const OIDC_TOTP_STEP_SECONDS = 5 * 60;
/** Sign-ins under way from one address (or IPv6 /64) at once: beyond, a start is refused until some end or expire. */
export const MAX_PENDING_FLOWS_PER_SOURCE = 20;

/** Why a sign-in through the provider ended without a session: the sign-in page says each in words. */
export type OidcRefusal =
  | 'expired'
  | 'provider_refused'
  | 'token_refused'
  | 'unavailable'
  | 'no_username_claim'
  | 'invalid_username'
  | 'unknown_user'
  | 'disabled'
  | 'subject_mismatch'
  | 'not_linked'
  | 'throttled';

export type OidcOutcome =
  | { readonly kind: 'signed_in'; readonly session: WebSession; readonly next: string }
  /** Back from the provider, owing a TOTP code: the browser's new flow token, for the next step. */
  | { readonly kind: 'totp'; readonly flowToken: string; readonly next: string }
  /** `keepFlow`: the browser's own sign-in is still under way (the answer was another's): its cookie stays. */
  | { readonly kind: 'refused'; readonly reason: OidcRefusal; readonly next: string; readonly keepFlow?: boolean };

export interface OidcServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly secrets: SecretBox;
  /** Web sessions, and the TOTP step with its limits and lockout, are the password sign-in's. */
  readonly auth: Pick<AuthService, 'signInVouched' | 'proveTotpAfterProvider' | 'admitProviderStep'>;
  readonly settings: OidcSettings;
  readonly logger?: Logger;
}

const verifierContext = (flowHash: string) => `oidc-pkce:${flowHash}`;
/** Who grants what the provider's groups give, in `granted_by`. */
const OIDC_GRANTOR = 'oidc';

/**
 * Sign-in through an OpenID Connect provider: Authorization Code with PKCE, state and nonce, each
 * sign-in bound to the browser that started it by a flow cookie and accepted once. The provider's
 * discovery document is read at the first sign-in (and again after a failure), so Changegate
 * starts while the provider is down.
 */
export class OidcService {
  private discovered: Promise<client.Configuration> | undefined;
  private jwks: client.ExportedJWKSCache | undefined;

  constructor(private readonly deps: OidcServiceDeps) {}

  /** What the sign-in page shows. */
  get displayName(): string {
    return this.deps.settings.displayName;
  }

  /**
   * Starts a sign-in: the provider's authorization URL to send the browser to, and the flow token
   * the browser keeps in a cookie until it comes back. `next` is a checked path of the console.
   */
  async start(next: string, sourceIp: string): Promise<{ url: string; flowToken: string } | 'throttled'> {
    const configuration = await this.configuration();
    const flowToken = newSecret();
    const flowHash = secretHash(flowToken);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const now = this.deps.clock.now();
    const source = sourceOf(sourceIp);
    const admitted = await this.deps.db.transaction().execute(async (trx) => {
      await deleteExpiredOidcFlows(trx, now);
      // Each start keeps a row for 10 minutes: one address cannot fill the table.
      if ((await countPendingOidcFlows(trx, source)) >= MAX_PENDING_FLOWS_PER_SOURCE) return false;
      await insertOidcFlow(trx, {
        flow_hash: flowHash,
        source,
        step: 'provider',
        state,
        nonce,
        code_verifier: this.deps.secrets.seal(verifier, verifierContext(flowHash)),
        user_id: null,
        subject: null,
        groups: null,
        next,
        created_at: now,
        expires_at: new Date(now.getTime() + OIDC_PROVIDER_STEP_SECONDS * 1000),
      });
      return true;
    });
    if (!admitted) return 'throttled';
    const offered = configuration.serverMetadata().scopes_supported ?? [];
    const scope = ['openid', 'profile', 'email', ...(offered.includes(this.deps.settings.groupsClaim) ? [this.deps.settings.groupsClaim] : [])].join(' ');
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: this.deps.settings.redirectUri,
      response_type: 'code',
      scope,
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    return { url: url.href, flowToken };
  }

  /**
   * The provider sent the browser back with `query`: takes the browser's flow (once: a second
   * callback finds nothing), redeems the code with the PKCE verifier, checks the ID token (issuer,
   * audience, expiry, nonce, signature) and the user, keeps the user's grants in step with their
   * groups, and opens the web session, or asks for the TOTP code first. Every refusal is an
   * `auth.login.failure` event, and changes nothing else.
   */
  async finish(input: { flowToken: string | undefined; query: URLSearchParams; sourceIp: string }): Promise<OidcOutcome> {
    // Within the address's limits, like every sign-in: beyond them refused at once, with no event
    // of its own (the limits count refusals into one `auth.login.throttled` per window).
    const attempt = this.deps.auth.admitProviderStep(input.sourceIp);
    if (!attempt) return { kind: 'refused', reason: 'throttled', next: '/' };
    let outcome: OidcOutcome | undefined;
    try {
      outcome = await this.callback(input);
      return outcome;
    } finally {
      attempt.settle(outcome?.kind === 'refused' || outcome === undefined);
    }
  }

  private async callback(input: { flowToken: string | undefined; query: URLSearchParams; sourceIp: string }): Promise<OidcOutcome> {
    const now = this.deps.clock.now();
    const flowHash = input.flowToken ? secretHash(input.flowToken) : undefined;
    const found = flowHash ? await findOidcFlow(this.deps.db, flowHash, 'provider') : undefined;
    // Another sign-in's answer (another tab, or forced on this browser) leaves this one under way.
    if (found && input.query.get('state') !== found.state) {
      return { ...(await this.refuse(input.sourceIp, 'expired', found.next, { check: 'state' })), keepFlow: true };
    }
    // Taken out of the table before anything else: of two callbacks with this flow, one goes on.
    const flow = found && flowHash ? await this.deps.db.transaction().execute((trx) => takeOidcFlow(trx, flowHash, 'provider')) : undefined;
    const next = flow?.next ?? '/';
    const refuse = (reason: OidcRefusal, data: Record<string, unknown> = {}, who?: string) => this.refuse(input.sourceIp, reason, next, data, who);
    if (!flow || flow.expires_at <= now) return refuse('expired', { check: !input.flowToken ? 'no_flow_cookie' : !flow ? 'unknown_or_used_flow' : 'flow_expired' });

    let claims: Record<string, unknown>;
    try {
      claims = await this.redeem(flow, input.query);
    } catch (error) {
      if (isAppError(error, 'oidc_unavailable')) return refuse('unavailable');
      const refusal = refusalOf(error);
      this.deps.logger?.info({ reason: refusal.reason, check: refusal.check }, 'a sign-in through the OpenID Connect provider was refused');
      return refuse(refusal.reason, { check: refusal.check });
    }

    const subject = String(claims.sub);
    const named = usernameOf(claims[this.deps.settings.usernameClaim]);
    if ('problem' in named) return refuse(named.problem, { subject, claim: this.deps.settings.usernameClaim });
    const groups = groupsOf(claims[this.deps.settings.groupsClaim]);
    const mfa = providerMfa(claims.amr, this.deps.settings.mfaAmr);
    const amr = Array.isArray(claims.amr) ? claims.amr.filter((method) => typeof method === 'string').slice(0, 10) : [];
    const data = { via: 'oidc', issuer: this.deps.settings.issuer, subject, amr };

    return this.deps.db.transaction().execute(async (trx): Promise<OidcOutcome> => {
      const refuseIn = async (reason: OidcRefusal, more: Record<string, unknown> = {}): Promise<OidcOutcome> => {
        await this.logRefusal(trx, input.sourceIp, reason, { ...data, ...more }, named.username);
        return { kind: 'refused', reason, next };
      };
      const existing = await findUserByName(trx, named.username);
      const linkedSubject = await findOidcIdentity(trx, this.deps.settings.issuer, subject);
      if (linkedSubject && linkedSubject.user_id !== existing?.id) return refuseIn('subject_mismatch', { check: 'subject_linked_to_another_user' });
      const link = existing && (await findOidcIdentityOfUser(trx, existing.id));
      if (link && (link.issuer !== this.deps.settings.issuer || link.subject !== subject)) return refuseIn('subject_mismatch', { check: 'user_linked_to_another_subject' });
      if (existing?.disabledAt) return refuseIn('disabled');
      if (!existing && !this.deps.settings.createUsers) return refuseIn('unknown_user');
      // A local account (a password, or TOTP) is never taken over by whoever claims its name at the
      // provider, unless the administrator said the provider's usernames are the same people's.
      if (existing && !link && (existing.passwordHash !== null || existing.totpEnabledAt !== null) && !this.deps.settings.linkExisting) {
        return refuseIn('not_linked', { check: 'local_account' });
      }

      const user = existing ?? (await this.createUser(trx, named.username, claims, now));
      if (user.totpEnabledAt && !mfa) {
        // Nothing is bound before the code is right: a wrong one leaves the account as it was.
        const flowToken = newSecret();
        await insertOidcFlow(trx, {
          flow_hash: secretHash(flowToken),
          source: sourceOf(input.sourceIp),
          step: 'totp',
          state: null,
          nonce: null,
          code_verifier: null,
          user_id: user.id,
          subject,
          groups: JSON.stringify(groups),
          next,
          created_at: now,
          expires_at: new Date(now.getTime() + OIDC_TOTP_STEP_SECONDS * 1000),
        });
        return { kind: 'totp', flowToken, next };
      }
      await this.bind(trx, user, subject, groups, link !== undefined, now);
      const session = await this.deps.auth.signInVouched(trx, user, {
        sourceIp: input.sourceIp,
        secondFactor: user.totpEnabledAt !== null,
        data: { ...data, totp: user.totpEnabledAt !== null ? 'provider_mfa' : false },
      });
      return { kind: 'signed_in', session, next };
    });
  }

  /** The TOTP code of a user back from the provider: the web session, or the error of a wrong code (which counts toward the lockout). */
  async proveTotp(input: { flowToken: string | undefined; totp: string; sourceIp: string }): Promise<{ session: WebSession; next: string }> {
    const flowHash = input.flowToken ? secretHash(input.flowToken) : undefined;
    const flow = flowHash ? await findOidcFlow(this.deps.db, flowHash, 'totp') : undefined;
    if (!flow || !flowHash || !flow.user_id || !flow.subject || flow.expires_at <= this.deps.clock.now()) throw errors.oidcSignInExpired();
    const { subject } = flow;
    const session = await this.deps.auth.proveTotpAfterProvider(
      { userId: flow.user_id, totp: input.totp, sourceIp: input.sourceIp, data: { via: 'oidc', issuer: this.deps.settings.issuer, subject } },
      async (trx, user) => {
        // Claimed in the transaction of the session: of two right codes at once, one signs in.
        if (!(await takeOidcFlow(trx, flowHash, 'totp'))) throw errors.oidcSignInExpired();
        // Bound only now, with the code proved: the link (checked again, as another sign-in may have made one since) and the grants.
        const link = await findOidcIdentityOfUser(trx, user.id);
        const linkedSubject = await findOidcIdentity(trx, this.deps.settings.issuer, subject);
        if ((link && (link.issuer !== this.deps.settings.issuer || link.subject !== subject)) || (linkedSubject && linkedSubject.user_id !== user.id)) {
          throw errors.oidcSignInExpired();
        }
        await this.bind(trx, user, subject, flow.groups ?? [], link !== undefined, this.deps.clock.now());
      },
    );
    return { session, next: flow.next };
  }

  /** Redeems the code (PKCE), checks the ID token, and reads what it lacks of the claims Changegate uses from the UserInfo endpoint. */
  private async redeem(flow: OidcFlowRow, query: URLSearchParams): Promise<Record<string, unknown>> {
    const discovered = await this.configuration();
    // Token times are checked against Changegate's clock (the system clock in production).
    const configuration = this.clientFor(discovered);
    const callback = new URL(this.deps.settings.redirectUri);
    callback.search = query.toString();
    const tokens = await client.authorizationCodeGrant(configuration, callback, {
      pkceCodeVerifier: this.deps.secrets.open(flow.code_verifier as string, verifierContext(flow.flow_hash)),
      expectedState: flow.state as string,
      expectedNonce: flow.nonce as string,
      idTokenExpected: true,
    });
    this.jwks = client.getJwksCache(configuration) ?? this.jwks;
    const idToken = tokens.claims();
    if (!idToken) throw Object.assign(new Error('no ID token'), { code: 'id_token_missing' });
    const claims: Record<string, unknown> = { ...idToken };
    const { usernameClaim, groupsClaim } = this.deps.settings;
    if ((claims[usernameClaim] === undefined || claims[groupsClaim] === undefined) && configuration.serverMetadata().userinfo_endpoint) {
      const info = await client.fetchUserInfo(configuration, tokens.access_token, idToken.sub);
      // The ID token wins where both say; `amr` and `sub` are the ID token's alone.
      for (const claim of [usernameClaim, groupsClaim, 'name', 'email', 'email_verified']) if (claims[claim] === undefined && info[claim] !== undefined) claims[claim] = info[claim];
    }
    return claims;
  }

  /** The provider's metadata, read once; a failure is logged and read again at the next sign-in. */
  private async configuration(): Promise<client.Configuration> {
    const { issuer, clientId } = this.deps.settings;
    this.discovered ??= client
      .discovery(new URL(issuer), clientId, this.metadata(), this.clientAuthentication(), { ...(this.insecure() && { execute: [client.allowInsecureRequests] }) })
      .catch((error: unknown) => {
        this.discovered = undefined;
        this.deps.logger?.error({ err: error, issuer }, 'the OpenID Connect provider’s discovery document cannot be read');
        throw errors.oidcUnavailable();
      });
    return this.discovered;
  }

  /** A client for one sign-in: the discovered metadata, this moment's clock skew, and the keys already fetched. */
  private clientFor(discovered: client.Configuration): client.Configuration {
    const skew = Math.round((this.deps.clock.now().getTime() - Date.now()) / 1000);
    const configuration = new client.Configuration(discovered.serverMetadata(), this.deps.settings.clientId, { ...this.metadata(), [client.clockSkew]: skew }, this.clientAuthentication());
    if (this.insecure()) client.allowInsecureRequests(configuration);
    if (this.jwks) client.setJwksCache(configuration, this.jwks);
    return configuration;
  }

  private metadata(): Partial<client.ClientMetadata> {
    return this.deps.settings.clientSecret ? { client_secret: this.deps.settings.clientSecret } : {};
  }

  private clientAuthentication(): client.ClientAuth {
    return this.deps.settings.clientSecret ? client.ClientSecretBasic(this.deps.settings.clientSecret) : client.None();
  }

  /** Plain http is allowed for a provider on loopback only (the configuration refuses it elsewhere). */
  private insecure(): boolean {
    return new URL(this.deps.settings.issuer).protocol === 'http:';
  }

  private async refuse(sourceIp: string, reason: OidcRefusal, next: string, data: Record<string, unknown>, who?: string): Promise<Extract<OidcOutcome, { kind: 'refused' }>> {
    await this.deps.db.transaction().execute((trx) => this.logRefusal(trx, sourceIp, reason, { via: 'oidc', issuer: this.deps.settings.issuer, ...data }, who));
    return { kind: 'refused', reason, next };
  }

  private async logRefusal(trx: Tx, sourceIp: string, reason: OidcRefusal, data: Record<string, unknown>, who?: string): Promise<void> {
    await appendEvent(trx, {
      actor: who ?? 'anonymous',
      action: 'auth.login.failure',
      subject: who ? `user:${who}` : 'oidc:sign-in',
      data: { reason, sourceIp, ...data },
      time: this.deps.clock.now(),
    });
  }

  /** Links the user to the provider's subject at their first sign-in through it (notes the sign-in after that), and keeps their grants in step with their groups. */
  private async bind(trx: Tx, user: User, subject: string, groups: readonly string[], linked: boolean, now: Date): Promise<void> {
    if (linked) await touchOidcIdentity(trx, user.id, now);
    else {
      await insertOidcIdentity(trx, { user_id: user.id, issuer: this.deps.settings.issuer, subject, linked_at: now, last_sign_in_at: now });
      await appendEvent(trx, { actor: user.username, action: 'user.oidc.link', subject: `user:${user.username}`, data: { issuer: this.deps.settings.issuer, subject }, time: now });
    }
    await this.keepGrantsInStep(trx, user, groups, now);
  }

  /** A user the provider vouched for, created at their first sign-in: no password, so they sign in through the provider. */
  private async createUser(trx: Tx, username: string, claims: Record<string, unknown>, now: Date): Promise<User> {
    const displayName = typeof claims.name === 'string' && claims.name.trim() ? claims.name.trim().slice(0, 200) : username;
    const email = typeof claims.email === 'string' && claims.email_verified === true && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(claims.email) ? claims.email.slice(0, 320) : null;
    const id = randomUUID();
    await insertUser(trx, newUserRow({ id, username, displayName, email, passwordHash: null, by: SYSTEM_ACTOR_NAME, now }));
    await appendEvent(trx, { actor: SYSTEM_ACTOR_NAME, action: 'user.create', subject: `user:${username}`, data: { via: 'oidc', issuer: this.deps.settings.issuer }, time: now });
    return (await findUserByName(trx, username)) as User;
  }

  /**
   * Gives the grants the user's groups call for and removes those the provider gave that they no
   * longer call for. Grants an administrator gave are never touched, and where one already holds a
   * privilege in a scope, the provider adds nothing there. A partition the mapping names that does
   * not exist (yet) is skipped, and said in the event.
   */
  private async keepGrantsInStep(trx: Tx, user: User, groups: readonly string[], now: Date): Promise<void> {
    const held = await grantsOfUser(trx, user.id);
    const kept = new Set<string>();
    for (const wanted of wantedGrants(this.deps.settings.groupGrants, groups)) {
      const partition = wanted.partition === null ? null : await findPartitionByName(trx, wanted.partition);
      if (wanted.partition !== null && !partition) {
        await appendEvent(trx, {
          actor: SYSTEM_ACTOR_NAME,
          action: 'grant.skip',
          subject: `user:${user.username}`,
          data: { privilege: wanted.privilege, partition: wanted.partition, source: 'oidc', groups: wanted.groups, why: 'no such partition' },
          time: now,
        });
        continue;
      }
      const partitionId = partition?.id ?? null;
      const existing = held.find((grant) => grant.privilege === wanted.privilege && grant.partitionId === partitionId);
      if (existing) {
        kept.add(existing.id);
        continue;
      }
      await insertGrant(trx, { id: randomUUID(), userId: user.id, privilege: wanted.privilege, level: 'access', partitionId, grantedAt: now, grantedBy: OIDC_GRANTOR, source: 'oidc' });
      await appendEvent(trx, {
        actor: SYSTEM_ACTOR_NAME,
        action: 'grant.create',
        subject: `user:${user.username}`,
        data: { privilege: wanted.privilege, level: 'access', partition: wanted.partition, source: 'oidc', groups: wanted.groups },
        time: now,
      });
    }
    for (const grant of held) {
      if (grant.source !== 'oidc' || kept.has(grant.id)) continue;
      await deleteGrant(trx, grant.id);
      const partition = grant.partitionId === null ? null : ((await partitionNamesByIds(trx, [grant.partitionId])).get(grant.partitionId) ?? grant.partitionId);
      await appendEvent(trx, {
        actor: SYSTEM_ACTOR_NAME,
        action: 'grant.revoke',
        subject: `user:${user.username}`,
        data: { privilege: grant.privilege, level: grant.level, partition, source: 'oidc', why: 'no group at the provider gives it any more' },
        time: now,
      });
    }
  }
}
