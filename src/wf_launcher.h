/*
 * wf_launcher.h — the launcher: a watchdog for every database where pg_wf
 * is installed, started and stopped with the DDL that installs it.
 */
#ifndef WF_LAUNCHER_H
#define WF_LAUNCHER_H

extern void wf_launcher_init(void);

#endif							/* WF_LAUNCHER_H */
