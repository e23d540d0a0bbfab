import { Alert, Button, Checkbox, FileInput, Group, Modal, Stack } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiError, unwrap } from '../api/client.ts';
import { notifyDone } from '../ui.tsx';
import { FILTERS_KEY, RULES_KEY, type Bundle } from './auditing.queries.ts';
import { ImportReportView } from './ImportReport.tsx';

/** Reads a chosen file as a bundle, or says why it is not one (the server checks the rest). */
async function readBundleFile(file: File): Promise<Bundle> {
  let json: unknown;
  try {
    json = JSON.parse(await file.text());
  } catch {
    throw new Error(`${file.name} is not JSON: choose a bundle exported by Changegate.`);
  }
  if (typeof json !== 'object' || json === null || (json as { format?: unknown }).format !== 'changegate-bundle') throw new Error(`${file.name} is not a Changegate bundle.`);
  return json as Bundle;
}

/** Import: a bundle file exported here or on another instance, with a dry run first if wanted. */
export function ImportDialog({ onClose }: { onClose: () => void }) {
  const queryClient = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [overwrite, setOverwrite] = useState(false);
  const run = useMutation({
    mutationFn: async (dryRun: boolean) => {
      if (!file) throw new Error('Choose a bundle file first.');
      const bundle = await readBundleFile(file);
      return unwrap(await api.POST('/api/v1/audit/import', { params: { query: { dryRun, overwrite } }, body: bundle }));
    },
    onSuccess: (report) => {
      if (report.dryRun) return;
      void queryClient.invalidateQueries({ queryKey: RULES_KEY });
      void queryClient.invalidateQueries({ queryKey: FILTERS_KEY });
      notifyDone(`Imported: ${report.created.length} created, ${report.updated.length} updated.`);
    },
  });
  const error = run.error;
  const problems = error instanceof ApiError ? (error.details?.problems ?? []) : [];
  return (
    <Modal opened closeButtonProps={{ 'aria-label': 'Close this dialog' }} onClose={onClose} title="Import a bundle" size="lg">
      <Stack>
        <FileInput
          label="Bundle file"
          description="A .json bundle from Export or Export with related objects"
          placeholder="Choose a file"
          accept="application/json,.json"
          value={file}
          onChange={(chosen) => {
            setFile(chosen);
            run.reset();
          }}
          clearable
          clearButtonProps={{ 'aria-label': 'Clear the chosen file' }}
          error={error && !(error instanceof ApiError) ? error.message : undefined}
        />
        <Checkbox label="Overwrite objects that exist here with other values" checked={overwrite} onChange={(event) => setOverwrite(event.currentTarget.checked)} />
        {error instanceof ApiError && (
          <Alert color="red" role="alert" title="Not imported">
            {error.message}
            {problems.length > 0 && ` ${problems.map((problem) => `${problem.path} ${problem.message}`).join('; ')}`}
          </Alert>
        )}
        {run.data && <ImportReportView report={run.data} />}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Close
          </Button>
          <Button variant="outline" disabled={!file} loading={run.isPending && run.variables} onClick={() => run.mutate(true)}>
            Dry run
          </Button>
          <Button disabled={!file} loading={run.isPending && !run.variables} onClick={() => run.mutate(false)}>
            Import
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
