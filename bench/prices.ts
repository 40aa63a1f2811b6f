/**
 * AWS list prices the payload benchmark turns its counts into: us-east-1, DynamoDB on demand
 * (Standard table class) as priced since the on-demand cut of 1 November 2024, S3 Standard (first
 * 50 TB a month). Free tiers are left out. Lambda, SQS and data transfer (free within the region)
 * are not priced: they do not depend on where a value is kept.
 */
export const PRICES = {
  asOf: "2024-11-01",
  region: "us-east-1",
  dynamoWritePerMillionUnitsUsd: 0.625,
  dynamoReadPerMillionUnitsUsd: 0.125,
  dynamoStoragePerGbMonthUsd: 0.25,
  s3PutPerThousandUsd: 0.005,
  s3GetPerThousandUsd: 0.0004,
  s3StoragePerGbMonthUsd: 0.023,
} as const;

/** How long a value is stored: the store's default retention of an ended execution. */
export const RETENTION_DAYS = 30;
const MONTHS_STORED = RETENTION_DAYS / (365 / 12);
/** AWS bills storage by the GiB. */
const GB = 1024 ** 3;

/** What one step costs, on average, in the units AWS bills. */
export interface StepUsage {
  writeUnits: number;
  readUnits: number;
  s3Puts: number;
  s3Gets: number;
  /** Bytes the step keeps in the table (items, with DynamoDB's 100 bytes each, and index entries). */
  dynamoBytes: number;
  s3Bytes: number;
  replayReadUnits: number;
  replayS3Gets: number;
}

export interface CostPerMillionSteps {
  /** DynamoDB writes and reads, S3 PUTs and GETs, while the workflow runs. */
  requests: number;
  /** The table and the bucket for the retention. */
  storage: number;
  /** One cold replay of the step (a fresh worker reading the history). */
  replay: number;
  total: number;
}

export function costPerMillionSteps(usage: StepUsage): CostPerMillionSteps {
  const requests =
    usage.writeUnits * PRICES.dynamoWritePerMillionUnitsUsd +
    usage.readUnits * PRICES.dynamoReadPerMillionUnitsUsd +
    usage.s3Puts * PRICES.s3PutPerThousandUsd * 1_000 +
    usage.s3Gets * PRICES.s3GetPerThousandUsd * 1_000;
  const storage =
    ((usage.dynamoBytes / GB) * PRICES.dynamoStoragePerGbMonthUsd + (usage.s3Bytes / GB) * PRICES.s3StoragePerGbMonthUsd) * MONTHS_STORED * 1_000_000;
  const replay = usage.replayReadUnits * PRICES.dynamoReadPerMillionUnitsUsd + usage.replayS3Gets * PRICES.s3GetPerThousandUsd * 1_000;
  return { requests, storage, replay, total: requests + storage + replay };
}
