import { errors } from './errors.ts';
import type { Api } from './http.ts';
import { METRICS_TOKEN_REQUIRED, metricsTokenMatches, type Metrics } from './metrics.ts';

/**
 * `GET /metrics` on the HTTP port, outside the API (`/api/v1`): only with the metrics token, never
 * with a user's session or API token. A caller without it learns nothing but that it is needed.
 */
export function metricsRoutes(app: Api, options: { readonly metrics: Metrics; readonly token: string }): void {
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (!metricsTokenMatches(request.headers.authorization, options.token)) throw errors.unauthenticated(METRICS_TOKEN_REQUIRED);
    const { contentType, text } = await options.metrics.exposition();
    return reply.type(contentType).send(text);
  });
}
