import { Title } from '@mantine/core';

export default function TrashCanPage() {
  return <Title order={1}>TrashCanPage</Title>;
}
