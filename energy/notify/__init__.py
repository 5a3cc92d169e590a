"""Notifications of critical incidents by e-mail and webhook (issue 18).

- policy: whether an incident is due (new, escalated, repeat) and whether quiet hours hold it;
- message: the text (German by default, catalogue in locales/) and the webhook's JSON;
- channels: SMTP and HTTP POST;
- job: the control loop's notification job, remembering what it sent in the store.

Configuration: the `notifications` section of the site YAML (energy.notification_config) and each
user's e-mail address and opt-in (energy.store.users); docs/operations.md.
"""
