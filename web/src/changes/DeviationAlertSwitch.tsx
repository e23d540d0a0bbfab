import { Switch, Text } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, unwrap } from '../api/client.ts';

/**
 * "Alert me of deviations": subscribes the user to a change's deviation alerts, a notice for each
 * burst of commands off its script while its sessions run (approvers of its group hear of them as
 * the group says, whatever this is). Shown only to those the API lets subscribe: Session.View in
 * the change's partition, or an approver of its group.
 */
export function DeviationAlertSwitch({ change }: { change: string }) {
  const queryClient = useQueryClient();
  const key = ['change', change, 'deviation-alerts'];
  const subscription = useQuery({
    queryKey: key,
    queryFn: async () => unwrap(await api.GET('/api/v1/changes/{change}/deviation-alerts', { params: { path: { change } } })),
    retry: false,
  });
  const set = useMutation({
    mutationFn: async (subscribed: boolean) =>
      unwrap(await api.PUT('/api/v1/changes/{change}/deviation-alerts', { params: { path: { change } }, body: { subscribed } })),
    onSuccess: (answer) => queryClient.setQueryData(key, answer),
  });
  // Not allowed to subscribe: the switch is not offered.
  if (subscription.error instanceof ApiError && (subscription.error.status === 403 || subscription.error.status === 404)) return null;
  if (!subscription.data) return null;
  return (
    <div>
      <Switch
        label="Alert me when a session of this change leaves its script"
        description="A notice, in the console and by e-mail, for each burst of commands not in the script or out of its order."
        checked={set.isPending ? (set.variables ?? subscription.data.subscribed) : subscription.data.subscribed}
        disabled={set.isPending}
        onChange={(event) => set.mutate(event.currentTarget.checked)}
      />
      {set.error && (
        <Text size="sm" c="red.9" role="alert" mt={4}>
          {set.error instanceof ApiError ? set.error.message : String(set.error)}
        </Text>
      )}
    </div>
  );
}
