import { Duration } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, type Metric, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";

/** The alarms of a {@link DurableWorkflows}; each notifies `alarmTopic` when one is given. */
export interface DurableWorkflowsAlarms {
  /** A wake-up reached the dead-letter queue: an execution the engine gave up on, or a poison message. */
  readonly deadLetters: Alarm;
  /** The worker failed as a whole (crash, timeout); per-record failures are retried and do not count. */
  readonly workerErrors: Alarm;
  /** The sweeper, the backstop for lost wake-ups, failed. */
  readonly sweeperErrors: Alarm;
  /** Wake-ups wait in the queue: the worker is not keeping up, or not running. */
  readonly oldestWakeUp: Alarm;
  /** A schedule fire or an event reached the starts dead-letter queue: it started nothing. Only with a starter. */
  readonly startDeadLetters?: Alarm;
}

/** SQS's longest DelaySeconds: a long timer's chained message is this old when it becomes visible. */
const MAX_DELAY = Duration.seconds(900);
/**
 * The SQS docs do not say whether a delayed message's age starts at its send
 * or when it becomes visible; assume the send, so a healthy queue may hold
 * wake-ups up to MAX_DELAY old. Alarm when one has waited 15 minutes more
 * than that (a 15-minute threshold would fire on every long timer).
 */
export const OLDEST_WAKE_UP_THRESHOLD = Duration.seconds(MAX_DELAY.toSeconds() + Duration.minutes(15).toSeconds());

export function createAlarms(
  scope: Construct,
  parts: { queue: IQueue; deadLetterQueue: IQueue; worker: IFunction; sweeper: IFunction; startsDeadLetterQueue?: IQueue },
  alarmTopic: ITopic | undefined,
): DurableWorkflowsAlarms {
  const anyAbove = (id: string, metric: Metric, threshold: number, description: string): Alarm => {
    const alarm = metric.createAlarm(scope, id, {
      alarmDescription: description,
      threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // No data means no messages or no invocations: nothing is wrong.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    if (alarmTopic) {
      alarm.addAlarmAction(new SnsAction(alarmTopic));
      alarm.addOkAction(new SnsAction(alarmTopic));
    }
    return alarm;
  };
  const period = Duration.minutes(1);
  return {
    deadLetters: anyAbove(
      "DeadLettersAlarm",
      parts.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: "Maximum" }),
      0,
      "Durable workflows: wake-ups in the dead-letter queue (an execution the engine gave up on). Inspect, fix, then redrive or delete them.",
    ),
    workerErrors: anyAbove(
      "WorkerErrorsAlarm",
      parts.worker.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }),
      0,
      "Durable workflows: the worker function failed (crash or timeout); its batch will be redelivered.",
    ),
    sweeperErrors: anyAbove(
      "SweeperErrorsAlarm",
      parts.sweeper.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }),
      0,
      "Durable workflows: the sweeper failed; wake-ups lost between a commit and a send are not being recovered.",
    ),
    oldestWakeUp: anyAbove(
      "OldestWakeUpAlarm",
      parts.queue.metricApproximateAgeOfOldestMessage({ period, statistic: "Maximum" }),
      OLDEST_WAKE_UP_THRESHOLD.toSeconds(),
      `Durable workflows: a wake-up has waited over ${OLDEST_WAKE_UP_THRESHOLD.toMinutes()} minutes (longest SQS delay plus 15 minutes); the worker is behind or not running.`,
    ),
    ...(parts.startsDeadLetterQueue
      ? {
          startDeadLetters: anyAbove(
            "StartDeadLettersAlarm",
            parts.startsDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: "Maximum" }),
            0,
            "Durable workflows: a schedule fire or an event started nothing (in the starts dead-letter queue). Its attributes say why; fix, then start it by hand or re-send it.",
          ),
        }
      : {}),
  };
}
