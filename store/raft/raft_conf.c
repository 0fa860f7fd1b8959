/* DESIGN: cluster configurations. A configuration takes effect when its entry is appended
 * (Raft thesis 4.1), so a node must be able to fall back to the previous one when a follower's
 * uncommitted suffix is truncated: raft_confs keeps the configuration at the log base (the
 * snapshot) plus one record per CONF entry still in the log above it. Records at or below the
 * commit index can never be truncated, so all but the latest of them are folded into the base
 * to keep the history short. CONF entries carry the whole resulting configuration, not a delta,
 * so the history never depends on entries a node did not see. */
#include <string.h>

#include "lib/err.h"
#include "lib/str.h"
#include "store/raft/raft_int.h"

enum raft_member_role raft_conf_role(const struct raft_conf *conf, uint64_t id)
{
	for (size_t i = 0; i < conf->n; i++)
		if (conf->members[i].id == id)
			return conf->members[i].role;
	return 0;
}

size_t raft_conf_voters(const struct raft_conf *conf)
{
	size_t n = 0;
	for (size_t i = 0; i < conf->n; i++)
		n += conf->members[i].role == RAFT_VOTER;
	return n;
}

bool raft_conf_valid(const struct raft_conf *conf)
{
	if (conf->n > RAFT_MAX_MEMBERS)
		return false;
	for (size_t i = 0; i < conf->n; i++) {
		const struct raft_member *m = &conf->members[i];
		if (m->id == RAFT_NONE || (m->role != RAFT_VOTER && m->role != RAFT_LEARNER))
			return false;
		for (size_t j = 0; j < i; j++)
			if (conf->members[j].id == m->id)
				return false;
	}
	return true;
}

int raft_bootstrap_entry(const struct raft_conf *conf, struct raft_entry *out)
{
	memset(out, 0, sizeof *out);
	if (!raft_conf_valid(conf) || raft_conf_voters(conf) == 0)
		return -KC_EINVAL;
	struct raft_conf_change cc = {.type = RAFT_CC_BOOTSTRAP};
	struct kc_str buf = KC_STR_INIT;
	raft_conf_change_encode(&cc, conf, &buf);
	out->term = 1;
	out->index = 1;
	out->type = RAFT_ENTRY_CONF;
	out->data = (uint8_t *)kc_str_detach(&buf, &out->len);
	return 0;
}

int raft_conf_apply_change(const struct raft_conf *in, const struct raft_conf_change *cc,
			   struct raft_conf *out, struct kc_err *err)
{
	if (cc->node_id == RAFT_NONE)
		return kc_err_set(err, -KC_EINVAL, "raft: node id 0");
	if (cc->context_len > RAFT_MAX_CONF_CONTEXT || (cc->context_len && !cc->context))
		return kc_err_set(err, -KC_EINVAL, "raft: bad change context");
	*out = *in;
	enum raft_member_role role = raft_conf_role(in, cc->node_id);
	switch (cc->type) {
	case RAFT_CC_ADD_LEARNER:
		if (role)
			return kc_err_set(err, -KC_EINVAL, "raft: node %llu is already a member",
					  (unsigned long long)cc->node_id);
		if (in->n >= RAFT_MAX_MEMBERS)
			return kc_err_set(err, -KC_ELIMIT, "raft: at most %d members",
					  RAFT_MAX_MEMBERS);
		out->members[out->n].id = cc->node_id;
		out->members[out->n].role = RAFT_LEARNER;
		out->n++;
		return 0;
	case RAFT_CC_PROMOTE:
		if (role != RAFT_LEARNER)
			return kc_err_set(err, -KC_EINVAL, "raft: node %llu is not a learner",
					  (unsigned long long)cc->node_id);
		for (size_t i = 0; i < out->n; i++)
			if (out->members[i].id == cc->node_id)
				out->members[i].role = RAFT_VOTER;
		return 0;
	case RAFT_CC_REMOVE:
		if (!role)
			return kc_err_set(err, -KC_EINVAL, "raft: node %llu is not a member",
					  (unsigned long long)cc->node_id);
		if (role == RAFT_VOTER && raft_conf_voters(in) == 1)
			return kc_err_set(err, -KC_EINVAL, "raft: cannot remove the last voter");
		out->n = 0;
		for (size_t i = 0; i < in->n; i++)
			if (in->members[i].id != cc->node_id)
				out->members[out->n++] = in->members[i];
		return 0;
	case RAFT_CC_BOOTSTRAP:
		break; /* only ever written by raft_bootstrap_entry */
	}
	return kc_err_set(err, -KC_EINVAL, "raft: unknown change type %d", (int)cc->type);
}

void raft_confs_init(struct raft_confs *cs, uint64_t index, const struct raft_conf *conf)
{
	cs->base_index = index;
	cs->base = *conf;
	kc_vec_init(&cs->recs, sizeof(struct raft_conf_rec));
}

void raft_confs_free(struct raft_confs *cs)
{
	kc_vec_free(&cs->recs);
}

const struct raft_conf *raft_confs_current(const struct raft_confs *cs)
{
	if (cs->recs.len == 0)
		return &cs->base;
	return &((const struct raft_conf_rec *)kc_vec_at(&cs->recs, cs->recs.len - 1))->conf;
}

uint64_t raft_confs_current_index(const struct raft_confs *cs)
{
	if (cs->recs.len == 0)
		return cs->base_index;
	return ((const struct raft_conf_rec *)kc_vec_at(&cs->recs, cs->recs.len - 1))->index;
}

void raft_confs_push(struct raft_confs *cs, uint64_t index, const struct raft_conf *conf)
{
	struct raft_conf_rec *rec = kc_vec_push(&cs->recs, NULL);
	rec->index = index;
	rec->conf = *conf;
}

void raft_confs_truncate(struct raft_confs *cs, uint64_t from)
{
	while (cs->recs.len > 0 &&
	       ((struct raft_conf_rec *)kc_vec_at(&cs->recs, cs->recs.len - 1))->index >= from)
		cs->recs.len--;
}

void raft_confs_compact(struct raft_confs *cs, uint64_t committed)
{
	size_t fold = 0;
	while (fold < cs->recs.len &&
	       ((struct raft_conf_rec *)kc_vec_at(&cs->recs, fold))->index <= committed)
		fold++;
	if (fold == 0)
		return;
	struct raft_conf_rec *last = kc_vec_at(&cs->recs, fold - 1);
	cs->base_index = last->index;
	cs->base = last->conf;
	struct raft_conf_rec *recs = cs->recs.data;
	memmove(recs, recs + fold, (cs->recs.len - fold) * sizeof *recs);
	cs->recs.len -= fold;
}
