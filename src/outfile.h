/* outfile.h: files the engine writes for people (exports, reports, archived copies) appear whole
 * or not at all: they are written under a temporary name beside their target, then renamed. */
#ifndef SUBSIDY_OUTFILE_H
#define SUBSIDY_OUTFILE_H

/* What the engine's files hold (bank accounts, amounts): owner and group may read them. */
#define OUTFILE_MODE 0640

/* Creates a new empty file beside path, named ".NAME.XXXXXX" so that nothing looking for NAME
 * (or listing the folder's visible files) takes it half-written, with mode OUTFILE_MODE and
 * flags (O_WRONLY or O_RDWR; O_CLOEXEC is added). Returns its descriptor and sets *tmp_path
 * (caller frees); -1 with errno set (and *tmp_path NULL) on failure. The caller renames it into
 * place, or unlinks it. */
int outfile_open_beside(const char *path, int flags, char **tmp_path);

#endif
