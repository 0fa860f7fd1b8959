/* imagectl.h - `kc image`: import, list, remove, pull and inspect images in a data dir's image
 * store (runtime/image.h), with or without a server running on it. */
#ifndef KC_ROLES_IMAGECTL_H
#define KC_ROLES_IMAGECTL_H

/* Runs the CLI with the arguments after "image". Returns the process exit code: 0 on success,
 * 1 when an operation fails (one line on stderr), 2 on bad usage (one line on stderr). */
int kc_imagectl_main(int argc, char **argv);

#endif
