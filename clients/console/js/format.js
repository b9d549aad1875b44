// zh-CN display: times in China Standard Time, money in yuan from integer fen, energy
// in kWh from integer Wh. The API sends int64 values as strings; BigInt keeps them exact.

const ZONE = "Asia/Shanghai";
const dateTime = new Intl.DateTimeFormat("zh-CN", {
  timeZone: ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

/** "2026-12-07 08:30" (CST) from an RFC 3339 UTC timestamp; "—" when unset. */
export function time(value) {
  if (!value || value.startsWith("1970-01-01")) return "—";
  const parts = Object.fromEntries(dateTime.formatToParts(new Date(value)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

/** "¥1,234.56" from fen (string or number), exact for any int64. */
export function yuan(fen) {
  let n = BigInt(fen || 0);
  const sign = n < 0n ? "-" : "";
  if (n < 0n) n = -n;
  const whole = (n / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cents = (n % 100n).toString().padStart(2, "0");
  return `${sign}¥${whole}.${cents}`;
}

/** "123.4 kWh" from Wh. */
export function kwh(wh) {
  const n = Number(BigInt(wh || 0)) / 1000;
  return `${n.toLocaleString("zh-CN", { maximumFractionDigits: 1 })} kWh`;
}

/** The last segment of a resource name: "feedback/abc" → "abc". */
export function id(name) {
  return String(name || "").split("/").pop();
}

/** An RFC 3339 UTC timestamp from a local datetime-local input (entered in CST). */
export function fromLocalInput(value) {
  return value ? new Date(`${value}:00+08:00`).toISOString() : "";
}

// Enum values the API sends by name, shown in Chinese; unknown ones as sent.
const LABELS = {
  FEEDBACK_STATE_SUBMITTED: "待受理",
  FEEDBACK_STATE_ACCEPTED: "已受理",
  FEEDBACK_STATE_IN_PROGRESS: "处理中",
  FEEDBACK_STATE_RESOLVED: "已解决",
  FEEDBACK_STATE_CLOSED: "已关闭",
  FEEDBACK_KIND_COMPLAINT: "投诉",
  FEEDBACK_KIND_REPORT: "举报",
  FEEDBACK_KIND_SUGGESTION: "建议",
  FEEDBACK_KIND_PRAISE: "表扬",
  FEEDBACK_KIND_INQUIRY: "咨询",
  FEEDBACK_ACTION_SUBMITTED: "提交",
  FEEDBACK_ACTION_ASSIGNED: "分派",
  FEEDBACK_ACTION_REPLIED: "答复",
  FEEDBACK_ACTION_RESOLVED: "解决",
  FEEDBACK_ACTION_RATED: "评价",
  FEEDBACK_ACTION_CLOSED: "关闭",
  OUTAGE_KIND_PLANNED: "计划停电",
  OUTAGE_KIND_UNPLANNED: "故障停电",
  OUTAGE_STATE_SCHEDULED: "已公告",
  OUTAGE_STATE_ACTIVE: "停电中",
  OUTAGE_STATE_RESTORED: "已恢复",
  OUTAGE_STATE_CANCELLED: "已取消",
  ARTICLE_KIND_NOTICE: "公告",
  ARTICLE_KIND_NEWS: "新闻",
  ARTICLE_KIND_GUIDE: "指南",
  ARTICLE_STATE_DRAFT: "草稿",
  ARTICLE_STATE_PUBLISHED: "已发布",
  ARTICLE_STATE_WITHDRAWN: "已撤回",
  RISK_LEVEL_LOW: "低",
  RISK_LEVEL_MEDIUM: "中",
  RISK_LEVEL_HIGH: "高",
  RISK_LEVEL_CRITICAL: "严重",
  APPLICATION_KIND_LOW_VOLTAGE_RESIDENTIAL: "低压居民",
  APPLICATION_KIND_LOW_VOLTAGE_BUSINESS: "低压非居民",
  APPLICATION_KIND_HIGH_VOLTAGE: "高压",
  APPLICATION_STATE_IN_PROGRESS: "办理中",
  APPLICATION_STATE_COMPLETED: "已完成",
  APPLICATION_STATE_REJECTED: "已驳回",
  NODE_KIND_ACCEPTANCE: "业务受理",
  NODE_KIND_SURVEY: "现场勘查",
  NODE_KIND_DESIGN_REVIEW: "设计审查",
  NODE_KIND_CONSTRUCTION: "工程施工",
  NODE_KIND_COMPLETION_INSPECTION: "竣工检验",
  NODE_KIND_CONNECTION: "装表接电",
  NODE_KIND_SUPPLY_PLAN: "供电方案答复",
  NODE_KIND_MID_INSPECTION: "中间检查",
  NODE_STATE_PENDING: "未开始",
  NODE_STATE_IN_PROGRESS: "办理中",
  NODE_STATE_COMPLETED: "已完成",
  NODE_STATE_REJECTED: "已驳回",
  NODE_STATE_CANCELLED: "已取消",
  NODE_STATE_WAITING_ON_CUSTOMER: "待客户补件",
  INSPECTION_KIND_PERIODIC: "周期检查",
  INSPECTION_KIND_SPECIAL: "专项检查",
  INSPECTION_KIND_ANOMALY: "异常检查",
  INSPECTION_STATE_PENDING: "待检查",
  INSPECTION_STATE_IN_PROGRESS: "检查中",
  INSPECTION_STATE_COMPLETED: "已完成",
  INSPECTION_STATE_CANCELLED: "已取消",
  IMPORT_SOURCE_CUSTOMERS: "客户档案",
  IMPORT_SOURCE_METER_READINGS: "抄表示数",
  IMPORT_SOURCE_PAYMENTS: "柜台缴费",
  IMPORT_SOURCE_TARIFF_ASSIGNMENTS: "电价变更",
  IMPORT_JOB_STATE_QUEUED: "排队中",
  IMPORT_JOB_STATE_RUNNING: "导入中",
  IMPORT_JOB_STATE_SUCCEEDED: "已完成",
  IMPORT_JOB_STATE_FAILED: "失败",
  IMPORT_JOB_STATE_CANCELLED: "已取消",
  RECORD_KIND_CUSTOMER: "客户档案",
  RECORD_KIND_METER_READING: "抄表示数",
  RECORD_KIND_TARIFF_ASSIGNMENT: "电价变更",
  RECORD_KIND_PAYMENT: "缴费",
  RECORD_KIND_APPLICATION_UPDATE: "业扩进度",
  RECORD_KIND_DAILY_READING: "日电量",
  QUARANTINE_STATE_OPEN: "待处理",
  QUARANTINE_STATE_RESOLVED: "已解决",
  QUARANTINE_STATE_DISCARDED: "已丢弃",
  QUARANTINE_STATE_SUPERSEDED: "已被新版本取代",
  JOB_RUN_OUTCOME_RUNNING: "运行中",
  JOB_RUN_OUTCOME_OK: "成功",
  JOB_RUN_OUTCOME_FAILED: "失败",
  JOB_RUN_OUTCOME_INTERRUPTED: "中断",
  USER_STATE_ACTIVE: "正常",
  USER_STATE_DISABLED: "已停用",
  SUPPLY_OFFICE_COVERAGE_NONE: "无",
  SUPPLY_OFFICE_COVERAGE_LISTED: "指定供电所",
  SUPPLY_OFFICE_COVERAGE_ALL: "全部供电所",
};

export function label(value) {
  return LABELS[value] || value || "—";
}
