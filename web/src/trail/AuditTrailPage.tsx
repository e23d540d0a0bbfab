import { Title } from '@mantine/core';

export default function AuditTrailPage() {
  return <Title order={1}>AuditTrailPage</Title>;
}
