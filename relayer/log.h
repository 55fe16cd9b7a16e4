/*
 * log.h - structured log lines (logfmt) on stderr, for daemons and commands alike.
 *
 *   ts=2026-11-25T06:51:14.120Z level=info comp=ingest node=hub msg="committed" head=4096
 *
 * The component and node are set once at start-up (log_init); fields are a printf format of
 * key=value pairs. Library code never logs: it returns errors or calls a caller's hook, and the
 * process main decides what to write. Never pass secret material to these functions.
 */
#ifndef RL_LOG_H
#define RL_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the component and node names and the lowest level written (RELAYER_LOG_LEVEL in the
 * environment, debug|info|warn|error, overrides min). */
void log_init(const char *component, const char *node, enum log_level min);
/* A daemon of one chain (an executor): every line then carries chain=NAME after the node. Set at
 * start-up, with the node name once its key is read, before any thread that logs starts. */
void log_set_node_chain(const char *node, const char *chain);

/* One line: msg is quoted; fields (may be NULL) is a format of space-separated key=value. */
void log_line(enum log_level level, const char *msg, const char *fields, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) log_line(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) log_line(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_line(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_line(LOG_ERROR, msg, __VA_ARGS__)

#endif
