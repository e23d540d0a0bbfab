import { Title } from '@mantine/core';

export default function UserPage() {
  return <Title order={1}>UserPage</Title>;
}
