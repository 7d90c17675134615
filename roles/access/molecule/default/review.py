#!/usr/bin/env python
"""What the API server's authorizer answers for a ServiceAccount, through SubjectAccessReview (as the kubeconfig's user).

    review.py --kubeconfig K --namespace NS --account SA VERB:RESOURCE[:NAME][@NAMESPACE] ...

prints a JSON mapping of each question to true (allowed) or false. Test scaffolding for Molecule, not part of the
collection's content.
"""

from __future__ import annotations

import argparse
import json
import sys

from kubernetes import config, dynamic
from kubernetes.client import api_client


def allowed(api, namespace, account, question):
    action, _at, where = question.partition("@")
    verb, resource, name = (action.split(":") + [""])[:3]
    attributes = {"namespace": where or namespace, "verb": verb, "resource": resource}
    if name:
        attributes["name"] = name
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": "system:serviceaccount:%s:%s" % (namespace, account), "resourceAttributes": attributes}}
    answer = api.resources.get(api_version="authorization.k8s.io/v1", kind="SubjectAccessReview").create(body=review)
    return bool(answer.to_dict()["status"].get("allowed"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("questions", nargs="+")
    args = parser.parse_args(argv)
    api = dynamic.DynamicClient(api_client.ApiClient(configuration=config.load_kube_config(config_file=args.kubeconfig) or None))
    json.dump({q: allowed(api, args.namespace, args.account, q) for q in args.questions}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
