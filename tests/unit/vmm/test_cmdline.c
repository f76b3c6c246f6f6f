/* test_cmdline.c: kernel command-line assembly (cmdline.c): ember's defaults,
 * the user's --cmdline and the guest words after " -- "; quoting of words with
 * blanks, "" for an empty word, refusal of words holding a double quote or a
 * control character, and the output buffer's exact-fit / overflow-by-one edge. */
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/cmdline.h"
#include "vmm/config.h"

static char out[256];
static struct errbuf err;

static int build(const char *base, const char *user, char **words, size_t n, size_t cap)
{
	memset(out, 'X', sizeof(out));
	memset(&err, 0, sizeof(err));
	return cmdline_build(base, user, words, n, out, cap, &err);
}

static void defaults_only(void)
{
	CHECK_EQ(build(CMDLINE_DEFAULT, NULL, NULL, 0, sizeof(out)), 0);
	CHECK_STR_EQ(out, CMDLINE_DEFAULT);
	CHECK(strstr(out, "console=ttyS0") != NULL);
}

static void defaults_and_user(void)
{
	CHECK_EQ(build("console=ttyS0", "root=/dev/vda ro", NULL, 0, sizeof(out)), 0);
	CHECK_STR_EQ(out, "console=ttyS0 root=/dev/vda ro");
}

static void empty_user_adds_nothing(void)
{
	CHECK_EQ(build("a=1", "", NULL, 0, sizeof(out)), 0);
	CHECK_STR_EQ(out, "a=1");
}

static void defaults_user_and_words(void)
{
	char *w[] = {"/bin/echo", "hello", "world"};
	CHECK_EQ(build("a=1", "b=2", w, 3, sizeof(out)), 0);
	CHECK_STR_EQ(out, "a=1 b=2 -- /bin/echo hello world");
}

static void words_without_user(void)
{
	char *w[] = {"uname", "-a"};
	CHECK_EQ(build("a=1", NULL, w, 2, sizeof(out)), 0);
	CHECK_STR_EQ(out, "a=1 -- uname -a");
}

static void words_without_anything_else(void)
{
	char *w[] = {"ls"};
	CHECK_EQ(build(NULL, NULL, w, 1, sizeof(out)), 0);
	CHECK_STR_EQ(out, "-- ls");
}

static void no_words_no_separator(void)
{
	CHECK_EQ(build("a=1", "b=2", NULL, 0, sizeof(out)), 0);
	CHECK(strstr(out, "--") == NULL);
	char *w[] = {"x"};
	CHECK_EQ(build("a=1", "b=2", w, 0, sizeof(out)), 0); /* nwords 0 wins */
	CHECK_STR_EQ(out, "a=1 b=2");
}

static void word_with_space_quoted(void)
{
	char *w[] = {"sh", "-c", "echo hi there"};
	CHECK_EQ(build("a=1", NULL, w, 3, sizeof(out)), 0);
	CHECK_STR_EQ(out, "a=1 -- sh -c \"echo hi there\"");
}

static void word_only_space_quoted(void)
{
	char *w[] = {" "};
	CHECK_EQ(build("a=1", NULL, w, 1, sizeof(out)), 0);
	CHECK_STR_EQ(out, "a=1 -- \" \"");
}

static void empty_word_quoted(void)
{
	char *w[] = {"printf", "", "x"};
	CHECK_EQ(build("a=1", NULL, w, 3, sizeof(out)), 0);
	CHECK_STR_EQ(out, "a=1 -- printf \"\" x");
}

static void reject_word(const char *bad)
{
	char *w[] = {"echo", (char *)bad};
	CHECK_EQ(build("a=1", NULL, w, 2, sizeof(out)), -1);
	CHECK(err.msg[0] != '\0');
}

static void word_with_quote_rejected(void)
{
	reject_word("say \"hi\"");
	reject_word("\"");
}

static void word_with_control_rejected(void)
{
	reject_word("a\nb");
	reject_word("tab\there");
	reject_word("\x1b[0m");
	reject_word("del\x7f");
	reject_word("\x01");
}

static void high_bytes_accepted(void)
{
	char *w[] = {"caf\xc3\xa9"};
	CHECK_EQ(build("a=1", NULL, w, 1, sizeof(out)), 0);
	CHECK_STR_EQ(out, "a=1 -- caf\xc3\xa9");
}

static void exact_fit_and_overflow_by_one(void)
{
	char *w[] = {"echo", "two words"};
	const char *want = "a=1 b=2 -- echo \"two words\"";
	size_t need = strlen(want) + 1;
	CHECK_EQ(build("a=1", "b=2", w, 2, need), 0);
	CHECK_STR_EQ(out, want);
	CHECK_EQ(out[need], 'X'); /* nothing written past cap */
	CHECK_EQ(build("a=1", "b=2", w, 2, need - 1), -1);
	CHECK(err.msg[0] != '\0');
	CHECK(memchr(out, '\0', need - 1) != NULL); /* still a string */
	CHECK_EQ(out[need - 1], 'X');
	/* no words: same edge */
	CHECK_EQ(build("abc", NULL, NULL, 0, 4), 0);
	CHECK_STR_EQ(out, "abc");
	CHECK_EQ(build("abc", NULL, NULL, 0, 3), -1);
	CHECK_EQ(out[3], 'X');
}

static void every_cap_never_overruns(void)
{
	char *w[] = {"sh", "-c", "a b", ""};
	const char *want = "x=1 y -- sh -c \"a b\" \"\"";
	size_t need = strlen(want) + 1;
	for (size_t cap = 0; cap <= need + 2; cap++) {
		int r = build("x=1", "y", w, 4, cap);
		CHECK_EQ(r, cap >= need ? 0 : -1);
		CHECK_EQ(out[cap], 'X');
		if (r == 0)
			CHECK_STR_EQ(out, want);
	}
}

static void bad_word_reported_even_when_too_long(void)
{
	char *w[] = {"a\"b"};
	CHECK_EQ(build("abc", NULL, w, 1, 2), -1);
	CHECK(strstr(err.msg, "quote") != NULL);
}

/* A long word: the reason is in the message, the word only abbreviated. */
static void long_bad_word_message_keeps_reason(void)
{
	char word[1000];
	memset(word, 'w', sizeof(word) - 2);
	word[sizeof(word) - 2] = '"';
	word[sizeof(word) - 1] = '\0';
	char *w[] = {word};
	CHECK_EQ(build("a=1", NULL, w, 1, sizeof(out)), -1);
	CHECK(strstr(err.msg, "double quote") != NULL);
	CHECK(strstr(err.msg, "wwww...") != NULL);
	CHECK(strlen(err.msg) < sizeof(err.msg) - 1); /* not cut */
}

/* cmdline_for_config: the command line's configuration gives what it always
 * gave; the API's boot_args replace the default; the root device follows. */
static int build_config(const struct vm_config *c)
{
	memset(out, 'X', sizeof(out));
	memset(&err, 0, sizeof(err));
	return cmdline_for_config(c, out, sizeof(out), &err);
}

static void config_as_the_command_line(void)
{
	static struct vm_config c;
	vm_config_defaults(&c);
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, CMDLINE_DEFAULT);
	char *w[] = {"uname", "-a"};
	c.cmdline = "loglevel=7";
	c.guest_argv = w;
	c.guest_argc = 2;
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, CMDLINE_DEFAULT " loglevel=7 -- uname -a");
}

static void config_boot_args_replace_default(void)
{
	static struct vm_config c;
	vm_config_defaults(&c);
	c.cmdline = "console=ttyS0 reboot=k";
	c.cmdline_replaces_default = true;
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, "console=ttyS0 reboot=k");
	c.cmdline = ""; /* an empty boot_args: an empty command line */
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, "");
}

/* Firecracker clients' pci=off and acpi=off would hide ember's devices:
 * dropped from boot_args (not from the guest's words after " -- ", and not
 * from the command line's --cmdline). */
static void config_boot_args_drop_pci_off(void)
{
	static struct vm_config c;
	vm_config_defaults(&c);
	c.cmdline = "console=ttyS0 reboot=k panic=1 pci=off acpi=off i8042.nokbd -- sh -c \"echo pci=off\"";
	c.cmdline_replaces_default = true;
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, "console=ttyS0 reboot=k panic=1 i8042.nokbd -- sh -c \"echo pci=off\"");
	c.cmdline = "pci=off";
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, "");
	c.cmdline = "pci=offx apci=off";
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, "pci=offx apci=off");
	c.cmdline = "pci=off";
	c.cmdline_replaces_default = false; /* --cmdline: as given */
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, CMDLINE_DEFAULT " pci=off");
}

static void config_root_device(void)
{
	static struct vm_config c;
	vm_config_defaults(&c);
	c.cmdline = "a=1";
	c.cmdline_replaces_default = true;
	c.ndisks = 1;
	c.root_disk = true;
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, "a=1 root=/dev/vda rw");
	c.disks[0].ro = true;
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, "a=1 root=/dev/vda ro");
	strcpy(c.root_partuuid, "0eaa91a0-01");
	char *w[] = {"true"};
	c.guest_argv = w;
	c.guest_argc = 1;
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, "a=1 root=PARTUUID=0eaa91a0-01 ro -- true");
	c.root_disk = false; /* a partuuid without a root device says nothing */
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, "a=1 -- true");
	/* boot_args with init's part: the root words go before its "--"
	 * (not inside quotes, and a word like --x is not it) */
	c.guest_argc = 0;
	c.root_disk = true;
	c.root_partuuid[0] = 0;
	c.disks[0].ro = false;
	c.cmdline = "a=1 --x \"b -- c\" -- sh -c \"echo -- hi\"";
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, "a=1 --x \"b -- c\" root=/dev/vda rw -- sh -c \"echo -- hi\"");
	c.cmdline = "-- init-arg";
	CHECK_EQ(build_config(&c), 0);
	CHECK_STR_EQ(out, "root=/dev/vda rw -- init-arg");
}

int main(void)
{
	RUN(defaults_only);
	RUN(defaults_and_user);
	RUN(empty_user_adds_nothing);
	RUN(defaults_user_and_words);
	RUN(words_without_user);
	RUN(words_without_anything_else);
	RUN(no_words_no_separator);
	RUN(word_with_space_quoted);
	RUN(word_only_space_quoted);
	RUN(empty_word_quoted);
	RUN(word_with_quote_rejected);
	RUN(word_with_control_rejected);
	RUN(long_bad_word_message_keeps_reason);
	RUN(high_bytes_accepted);
	RUN(exact_fit_and_overflow_by_one);
	RUN(every_cap_never_overruns);
	RUN(bad_word_reported_even_when_too_long);
	RUN(config_as_the_command_line);
	RUN(config_boot_args_replace_default);
	RUN(config_root_device);
	RUN(config_boot_args_drop_pci_off);
	return check_summary();
}
