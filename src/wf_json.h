/*
 * wf_json.h — parse and validate a workflow definition (ereports on bad
 * input, naming the JSON path).
 */
#ifndef WF_JSON_H
#define WF_JSON_H

#include "pg_wf.h"

extern WfGraph *wf_parse_definition(const char *json_text, size_t len);
extern void wf_json_init(void);

#endif							/* WF_JSON_H */
