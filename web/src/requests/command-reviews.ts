/** The command reviews of My approvals: lines held at the gateway until an approver allows or refuses them. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.ts';
import type { paths } from '../api/schema';
import { useMe } from '../session.tsx';
import { notifyDone } from '../ui.tsx';

export type CommandReview = paths['/api/v1/command-reviews/{number}']['get']['responses'][200]['content']['application/json'];

/**
 * How many decisions one listing asks for: pending reviews come first, so every pending one is
 * among them unless hundreds wait at once.
 */
const LIST_LIMIT = 200;

/**
 * The reviews the user is asked to decide, pending first (`asked=me`). `linked` (a notice's
 * `?review=12`) is asked for on its own when the list does not hold it.
 */
export function useReviewsToDecide(options: { enabled: boolean; pollMs: number; linked: number | undefined }) {
  const me = useMe();
  const mine = (review: CommandReview) => review.asked.includes(me.user.username);
  const list = useQuery({
    queryKey: ['command-reviews', 'list'],
    queryFn: async () => unwrap(await api.GET('/api/v1/command-reviews', { params: { query: { asked: 'me', limit: LIST_LIMIT } } })),
    refetchInterval: options.pollMs,
    enabled: options.enabled,
  });
  const { linked } = options;
  const listed = linked !== undefined && list.data?.some((review) => review.number === linked);
  const single = useQuery({
    queryKey: ['command-reviews', 'one', linked],
    queryFn: async () => unwrap(await api.GET('/api/v1/command-reviews/{number}', { params: { path: { number: linked ?? 0 } } })),
    refetchInterval: options.pollMs,
    enabled: options.enabled && linked !== undefined && list.data !== undefined && !listed,
  });
  const reviews = [...(list.data ?? []), ...(single.data && !listed ? [single.data] : [])].filter(mine);
  return {
    reviews,
    error: list.error,
    /** The linked review cannot be read, or is not one the user decides. */
    linkedMissing: linked !== undefined && list.data !== undefined && !reviews.some((review) => review.number === linked) && (listed || single.isError || single.data !== undefined),
  };
}

/** Allows or refuses a held line; the lists are asked again, whatever the answer (another approver may have decided first). */
export function useDecideReview() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async ({ number, decision, comment }: { number: number; decision: 'allow' | 'refuse'; comment: string }) =>
      unwrap(
        await api.POST('/api/v1/command-reviews/{number}/decision', {
          params: { path: { number } },
          body: { decision, ...(comment.trim() !== '' && { comment: comment.trim() }) },
        }),
      ),
    onSuccess: (review) => {
      notifyDone(
        review.status === 'allowed'
          ? `Allowed review #${review.number}: ${review.user}'s line runs now.`
          : `Refused review #${review.number}: ${review.user}'s line does not run, and ${review.user} is told so.`,
      );
    },
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: ['command-reviews'] });
      void queryClient.invalidateQueries({ queryKey: ['notifications'] });
    },
  });
}
