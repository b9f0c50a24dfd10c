//! The service containers' `CronWorkflow`s: containers grouped by schedule, zone and
//! `catch_up`, and each schedule as the cron expression Argo reads.

use super::*;

/// Service containers that share a schedule, a time zone and `catch_up`: one CronWorkflow.
#[derive(Debug)]
pub(super) struct CronGroup {
    /// The cron expression.
    pub(super) cron: String,
    /// The IANA zone; `None` for the controller's.
    pub(super) zone: Option<String>,
    pub(super) catch_up: bool,
    /// In plan order.
    pub(super) members: Vec<usize>,
}

/// The exported service containers, grouped in plan order of their first member.
pub(super) fn cron_groups(
    pipeline: &Pipeline,
    exported: &[usize],
    options: &ArgoOptions,
) -> Result<Vec<CronGroup>, ExportError> {
    let default_zone = options.default_timezone.as_deref().filter(|z| !is_local(z));
    let mut groups: Vec<CronGroup> = Vec::new();
    for &i in exported {
        let Some(c) = pipeline.spec().containers.get(i).filter(|c| c.is_service_container) else { continue };
        let cron = match &c.schedule {
            Some(schedule) => argo_cron(schedule).map_err(|reason| ExportError::ContainerSchedule {
                container: c.name.clone(),
                schedule: schedule.to_string(),
                reason: format!("{reason}; write a cron expression in `schedule`"),
            })?,
            None => argo_cron(&options.default_schedule).map_err(|reason| ExportError::DefaultSchedule {
                container: c.name.clone(),
                schedule: options.default_schedule.to_string(),
                reason: format!("{reason}; pass --cron, or give the container a `schedule`"),
            })?,
        };
        let zone = match c.timezone.as_deref() {
            Some(zone) if is_local(zone) => None,
            Some(zone) => Some(zone.to_string()),
            None => default_zone.map(str::to_string),
        };
        match groups.iter_mut().find(|g| g.cron == cron && g.zone == zone && g.catch_up == c.catch_up) {
            Some(group) => group.members.push(i),
            None => groups.push(CronGroup { cron, zone, catch_up: c.catch_up, members: vec![i] }),
        }
    }
    Ok(groups)
}

/// The cron expression Argo is given for a schedule, or why there is none, in Argo's terms.
pub(super) fn argo_cron(schedule: &Schedule) -> Result<String, String> {
    schedule.to_standard_cron().map_err(|error| match error {
        NoStandardCron::SundayAsSeven => "Argo's cron reads days of the week 0 to 6: write Sunday as 0 or SUN".into(),
        NoStandardCron::Interval(interval) => format!(
            "Argo runs on a cron schedule, and only intervals that divide an hour (1m, 2m, …, 30m) or a day \
             (1h, 2h, …, 12h, 24h) are one, not {}",
            humantime::format_duration(interval)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;
    use crate::Selection;

    #[test]
    fn schedules_without_a_cron_form_are_worded_for_argo() {
        let cron = |text: &str| argo_cron(&Schedule::parse(text).expect("a schedule"));
        assert_eq!(cron("*/5 * * * mon-fri").as_deref(), Ok("*/5 * * * 1-5"));
        assert_eq!(
            cron("every 90s"),
            Err("Argo runs on a cron schedule, and only intervals that divide an hour (1m, 2m, …, 30m) or a day \
                 (1h, 2h, …, 12h, 24h) are one, not 1m 30s"
                .to_string())
        );
        assert_eq!(
            cron("0 3 * * 5-7"),
            Err("Argo's cron reads days of the week 0 to 6: write Sunday as 0 or SUN".to_string())
        );
    }

    #[test]
    fn an_unexpressible_schedule_names_the_container() {
        let yaml = "p:\n  - {name: refresh, image_repo: x, is_service_container: true, schedule: every 7m}\n";
        let error = export_with(yaml, &Selection::default(), &ArgoOptions::default()).expect_err("7m has no cron form");
        assert_eq!(
            error.to_string(),
            "container `refresh`, property `schedule`: `every 7m` cannot be an Argo schedule: Argo runs on a cron \
             schedule, and only intervals that divide an hour (1m, 2m, …, 30m) or a day (1h, 2h, …, 12h, 24h) are one, \
             not 7m; write a cron expression in `schedule`"
        );
        let yaml = "p:\n  - {name: refresh, image_repo: x, is_service_container: true}\n";
        let options =
            ArgoOptions { default_schedule: Schedule::parse("every 25m").expect("valid"), ..Default::default() };
        let error = export_with(yaml, &Selection::default(), &options).expect_err("25m has no cron form");
        assert!(
            error.to_string().starts_with(
                "container `refresh` has no `schedule` and follows the default `every 25m` (--every/--cron), which \
                 cannot be an Argo schedule"
            ),
            "{error}"
        );
    }

    #[test]
    fn cron_workflows_group_service_containers_by_schedule() {
        let yaml = "p:\n  - {name: load, image_repo: x}\n  - {name: refresh, image_repo: x, is_service_container: true, \
                    dependencies: [load], schedule: every 10m}\n  - {name: report, image_repo: x, is_service_container: \
                    true, schedule: daily 03:30, timezone: Europe/Berlin, catch_up: true}\n  - {name: report_sum, \
                    image_repo: x, is_service_container: true, schedule: '30 3 * * *', timezone: Europe/Berlin, \
                    catch_up: true, dependencies: [report, refresh]}\n  - {name: nightly, image_repo: x, \
                    is_service_container: true}\n";
        let export = export_with(yaml, &Selection::default(), &ArgoOptions::default()).expect("exports");
        assert_eq!(export.documents.len(), 4);
        assert_eq!(tasks(&export.documents[0]).len(), 5, "the Workflow runs everything");
        let summary: Vec<(Value, Value, Tasks)> = export.documents[1..]
            .iter()
            .map(|d| {
                assert_eq!(d["kind"], "CronWorkflow");
                assert_eq!(d["spec"]["concurrencyPolicy"], "Forbid");
                assert_eq!(d["spec"]["workflowMetadata"]["labels"]["io.copili/pipeline"], "p");
                (d["metadata"]["name"].clone(), d["spec"]["schedules"].clone(), tasks(d))
            })
            .collect();
        assert_eq!(
            summary,
            // In plan order of their first container: `refresh` waits for `load`, a level later.
            vec![
                (
                    json!("p-report"),
                    json!(["30 3 * * *"]),
                    vec![("report".to_string(), vec![]), ("report-sum".to_string(), vec!["report".to_string()])]
                ),
                (json!("p-nightly"), json!(["0 0 * * *"]), vec![("nightly".to_string(), vec![])]),
                (json!("p-refresh"), json!(["*/10 * * * *"]), vec![("refresh".to_string(), vec![])]),
            ]
        );
        assert_eq!(export.documents[1]["spec"]["timezone"], "Europe/Berlin");
        assert_eq!(export.documents[1]["spec"]["startingDeadlineSeconds"], CATCH_UP_DEADLINE_SECONDS);
        assert!(export.documents[3]["spec"].get("timezone").is_none());
        assert!(export.documents[3]["spec"].get("startingDeadlineSeconds").is_none());
        assert_eq!(
            export.warnings,
            vec![
                "CronWorkflows `p-nightly`, `p-refresh` have no time zone: Argo reads their schedules in the workflow \
                 controller's time zone, where copili would use local time; pass --timezone or set `timezone`"
            ]
        );

        let options = ArgoOptions {
            default_schedule: Schedule::parse("every 2h").expect("valid"),
            default_timezone: Some("UTC".into()),
            namespace: Some("argo".into()),
            ..ArgoOptions::default()
        };
        let export = export_with(yaml, &Selection::default(), &options).expect("exports");
        assert!(export.warnings.is_empty(), "{:?}", export.warnings);
        let nightly = &export.documents[2];
        assert_eq!(nightly["spec"]["schedules"], json!(["0 */2 * * *"]));
        assert_eq!(nightly["spec"]["timezone"], "UTC");
        assert_eq!(nightly["metadata"]["namespace"], "argo");
        assert_eq!(export.documents[0]["metadata"]["namespace"], "argo");
    }
}
