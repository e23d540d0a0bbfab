import { Title } from '@mantine/core';

export default function AuditRulesPage() {
  return <Title order={1}>AuditRulesPage</Title>;
}
