import { DateTimePicker } from '@mantine/dates';
import '@mantine/dates/styles.css';

/** The calendar's controls, named for assistive technology and for the keyboard. */
const CALENDAR_LABELS = {
  monthLevelControl: 'Choose the month',
  yearLevelControl: 'Choose the year',
  nextMonth: 'Next month',
  previousMonth: 'Previous month',
  nextYear: 'Next year',
  previousYear: 'Previous year',
  nextDecade: 'Next decade',
  previousDecade: 'Previous decade',
};

export interface WallTimePickerProps {
  readonly label: string;
  /** The wall time in the user's zone, as `2026-12-02T14:30`; empty when not set. */
  readonly value: string;
  readonly onChange: (wall: string) => void;
  readonly timeZone: string;
  readonly readOnly?: boolean;
  readonly error?: string;
  /** A filter's bound is optional, and cleared with a button; a change's window is not (the default). */
  readonly required?: boolean;
  readonly w?: number;
}

/**
 * A date and time in the user's time zone (their profile's, not the browser's): a calendar and an
 * hour and minute, as Mantine's DateTimePicker offers them. Its values are wall times without a
 * zone (`2026-12-02 14:30:00`); the page turns them into instants with the user's zone.
 */
export function WallTimePicker({ label, value, onChange, timeZone, readOnly, error, required = true, w }: WallTimePickerProps) {
  return (
    <DateTimePicker
      label={label}
      description={required ? `In your time zone, ${timeZone}` : undefined}
      required={required}
      clearable={!required}
      clearButtonProps={{ 'aria-label': `Clear ${label.toLowerCase()}` }}
      w={w}
      value={value ? `${value.replace('T', ' ')}:00` : null}
      onChange={(picked) => onChange(picked ? picked.slice(0, 16).replace(' ', 'T') : '')}
      valueFormat="D MMM YYYY, HH:mm"
      placeholder={required ? 'Pick a date and time' : 'Any'}
      readOnly={readOnly}
      error={error}
      ariaLabels={CALENDAR_LABELS}
      timePickerProps={{ hoursInputLabel: 'Hours', minutesInputLabel: 'Minutes', format: '24h' }}
      submitButtonProps={{ 'aria-label': `Set the ${label.toLowerCase()}` }}
      popoverProps={{ trapFocus: true }}
      // Mantine's light red weekends and grey days of the next month fall short of AA contrast.
      weekendDays={[]}
      hideOutsideDates
    />
  );
}
