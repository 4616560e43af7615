"""Watches: URLs recaptured on a cron schedule (docs/watches.md).

    service      create, edit, delete, import and export watches, every field checked
    schedule     cron slots in a time zone, daylight-saving rules
    dispatcher   the beat task's body: claim each due (watch, slot) once, queue its capture
    outcomes     settle finished runs: back-off, flagging
    politeness   per-host interval and concurrency for scheduled captures
    robots       robots.txt, for watches that honour it
    watchlist    the plain-text watch list format
"""
from archiver.watches.dispatcher import DispatchReport, dispatch
from archiver.watches.schedule import ScheduleError, latest_slot, next_slot
from archiver.watches.service import (WatchError, create_watch, delete_watch, export_list,
                                      import_list, update_watch, watches)
from archiver.watches.watchlist import WatchListError

__all__ = ["dispatch", "DispatchReport", "next_slot", "latest_slot", "ScheduleError",
           "WatchError", "WatchListError", "create_watch", "update_watch", "delete_watch",
           "watches", "import_list", "export_list"]
