// Settings of the file service: the `upload` section of roost.yaml (enabled, maxFileSize,
// dailyQuota, retentionDays, subdomain, publicUrl; validated by the config schema) plus the
// finer limits under `modules.upload`, validated here:
//
//   slotTimeout     5m    how long a granted slot accepts its PUT (XEP-0363 §7 recommends a
//                         short validity: the client uploads right after asking)
//   slotsPerMinute  30    slot requests one account may make per minute (a client that loops
//                         cannot fill the database with unused slots)
//   idleTimeout     60s   an upload that sends nothing for this long is aborted and deleted
//   purgeInterval   1h    how often expired files and unused slots are removed (a slot stays
//                         one more slotTimeout after it expired, so a late PUT hears 410)
//
// Durations take a number of seconds or a unit (30s, 5m, 1h), as elsewhere in roost.yaml.
import { z } from 'zod';
import { duration } from '../../config/fields.js';
import type { RoostConfig } from '../../config/types.js';

const seconds = (def: string, min: number) =>
  duration()
    .default(def)
    .refine((s) => s >= min, { message: `must be at least ${min} seconds` });

export const uploadOptionsSchema = z
  .object({
    slotTimeout: seconds('5m', 1),
    slotsPerMinute: z.number().int().min(1).default(30),
    idleTimeout: seconds('60s', 1),
    purgeInterval: seconds('1h', 1),
  })
  .strict();

export type UploadOptions = z.output<typeof uploadOptionsSchema>;

/** modules.upload checked; throws an error naming the setting when it is wrong. */
export function parseUploadOptions(raw: Record<string, unknown>): UploadOptions {
  const r = uploadOptionsSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const where = issue.path.length > 0 ? `modules.upload.${issue.path.join('.')}` : 'modules.upload';
  const known = Object.keys(uploadOptionsSchema.shape).join(', ');
  throw new Error(`${where}: ${issue.message} (settings: ${known})`);
}

/** What a slot request is checked against, read at each request so a reload applies at once. */
export interface UploadLimits {
  maxFileSize: number;
  dailyQuota: number;
  /** Milliseconds a file is kept; 0 forever. */
  retentionMs: number;
}

export function limitsOf(config: RoostConfig): UploadLimits {
  const u = config.upload;
  return { maxFileSize: u.maxFileSize, dailyQuota: u.dailyQuota, retentionMs: u.retentionDays * 86_400_000 };
}
